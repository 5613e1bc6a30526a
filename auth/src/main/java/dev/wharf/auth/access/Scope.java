package dev.wharf.auth.access;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One scope of a token request, {@code repository:<name>:<action>[,<action>...]} as the Docker token spec writes
 * it. The name may itself hold a colon (a registry host with a port), so the type ends at the first colon and the
 * actions start after the last. Only {@code repository} scopes with valid repository names are kept; wharf grants
 * nothing else.
 *
 * @param type    the resource type ({@code repository})
 * @param name    the resource name ({@code <project>/<repository>})
 * @param actions the actions asked for or granted ({@code pull}, {@code push}, {@code *})
 */
public record Scope(String type, String name, Set<String> actions) {
    /** A repository name as the distribution spec allows it: lower-case components separated by '/'. */
    private static final Pattern NAME = Pattern.compile(
            "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*");
    private static final Pattern ACTION = Pattern.compile("[a-z*]{1,16}");
    /** More scopes than this in one request are refused (a pull needs one per repository). */
    public static final int MAX_SCOPES = 64;
    private static final int MAX_NAME = 255;

    public Scope {
        actions = Set.copyOf(actions);
    }

    /** A pull scope for one repository. */
    public static Scope pull(String repository) {
        return new Scope("repository", repository, Set.of("pull"));
    }

    /** The scope as the token spec writes it; actions in a stable order. */
    public String text() {
        return type + ":" + name + ":" + String.join(",", actions.stream().sorted().toList());
    }

    /**
     * Parses one scope string; throws {@link IllegalArgumentException} (with a message that quotes nothing longer
     * than the name) when it is not {@code repository:<valid name>:<actions>}.
     */
    public static Scope parse(String text) {
        if (text == null || text.length() > MAX_NAME + 64) {
            throw new IllegalArgumentException("scope too long");
        }
        int first = text.indexOf(':');
        int last = text.lastIndexOf(':');
        if (first <= 0 || last == first) {
            throw new IllegalArgumentException("scope must be <type>:<name>:<actions>");
        }
        String type = text.substring(0, first);
        String name = text.substring(first + 1, last);
        if (!type.equals("repository")) {
            throw new IllegalArgumentException("only repository scopes are granted");
        }
        if (name.isEmpty() || name.length() > MAX_NAME || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("not a repository name");
        }
        Set<String> actions = new LinkedHashSet<>();
        for (String a : text.substring(last + 1).split(",", -1)) {
            if (!ACTION.matcher(a).matches()) {
                throw new IllegalArgumentException("not an action");
            }
            actions.add(a);
        }
        return new Scope(type, name, actions);
    }

    /**
     * The scopes of a token request: every {@code scope} query value, each of which may hold several scopes
     * separated by spaces (OAuth 2 style, which some clients send). Scopes wharf does not grant (other types, bad
     * names) are dropped, as the token spec lets a server grant less than asked; too many is an error.
     */
    public static List<Scope> parseAll(Collection<String> values) {
        List<Scope> out = new ArrayList<>();
        for (String value : values) {
            for (String one : value.split(" ")) {
                if (one.isEmpty()) {
                    continue;
                }
                if (out.size() >= MAX_SCOPES) {
                    throw new IllegalArgumentException("more than " + MAX_SCOPES + " scopes");
                }
                try {
                    out.add(parse(one));
                } catch (IllegalArgumentException e) {
                    // not granted: skipped
                }
            }
        }
        return out;
    }
}
