package dev.wharf.auth.upstream;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One parsed {@code WWW-Authenticate} challenge, e.g.
 * {@code Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"}.
 *
 * @param scheme lower-case scheme ({@code bearer}, {@code basic})
 * @param params auth-params, keys lower-case, values unquoted
 */
public record Challenge(String scheme, Map<String, String> params) {

    /** Normalises on construction: lower-case scheme and keys, an unmodifiable copy of the params in their order. */
    public Challenge {
        scheme = scheme == null ? "" : scheme.toLowerCase(Locale.ROOT);
        Map<String, String> copy = new LinkedHashMap<>();
        if (params != null) {
            params.forEach((k, v) -> {
                if (k != null && v != null) {
                    copy.putIfAbsent(k.toLowerCase(Locale.ROOT), v);
                }
            });
        }
        params = Collections.unmodifiableMap(copy);
    }

    /**
     * Parses a header value that may hold several challenges; malformed parts are skipped, never thrown.
     *
     * <p>The grammar is RFC 7235 §4.1: {@code 1#( auth-scheme [ 1*SP ( token68 / #auth-param ) ] )}. Commas
     * separate both challenges and their params, so a bare token (not followed by {@code =}) starts a new
     * challenge, and {@code token = value} adds a param to the current one. Several header lines can be joined
     * with commas before parsing.
     */
    public static List<Challenge> parse(String headerValue) {
        if (headerValue == null || headerValue.isEmpty()) {
            return List.of();
        }
        try {
            return new Parser(headerValue).parse();
        } catch (RuntimeException e) {
            // The parser is written not to throw; this is the promise kept even if it has a bug.
            return List.of();
        }
    }

    /** Parses several header lines (each may hold several challenges), in order. */
    public static List<Challenge> parseAll(Iterable<String> headerValues) {
        List<Challenge> out = new ArrayList<>();
        if (headerValues != null) {
            for (String v : headerValues) {
                out.addAll(parse(v));
            }
        }
        return List.copyOf(out);
    }

    public String realm() {
        return params.get("realm");
    }

    public String service() {
        return params.get("service");
    }

    public String scope() {
        return params.get("scope");
    }

    /** The {@code error} param (RFC 6750), e.g. {@code insufficient_scope}, or null. */
    public String error() {
        return params.get("error");
    }

    /** Single-pass scanner over one header value. */
    private static final class Parser {
        private final String s;
        private int pos;
        private final List<Challenge> out = new ArrayList<>();
        private String scheme;
        private Map<String, String> params;

        Parser(String s) {
            this.s = s;
        }

        List<Challenge> parse() {
            while (true) {
                skipWhitespaceAndCommas();
                if (pos >= s.length()) {
                    break;
                }
                int tokenStart = pos;
                String token = readToken();
                if (token.isEmpty()) {
                    skipElement(); // garbage such as a stray quote or '='
                    continue;
                }
                int afterToken = pos;
                skipWhitespace();
                if (pos < s.length() && s.charAt(pos) == '=' && scheme != null) {
                    pos++;
                    skipWhitespace();
                    String value = readValue();
                    if (value != null && endOfElement()) {
                        params.putIfAbsent(token.toLowerCase(Locale.ROOT), value);
                    } else {
                        skipElement();
                    }
                    continue;
                }
                if (pos < s.length() && s.charAt(pos) == '=') {
                    // a param before any scheme: nothing to attach it to
                    pos = tokenStart;
                    skipElement();
                    continue;
                }
                pos = afterToken;
                startChallenge(token);
                skipToken68IfPresent();
            }
            finishChallenge();
            return List.copyOf(out);
        }

        private void startChallenge(String name) {
            finishChallenge();
            scheme = name;
            params = new LinkedHashMap<>();
        }

        private void finishChallenge() {
            if (scheme != null) {
                out.add(new Challenge(scheme, params));
            }
            scheme = null;
            params = null;
        }

        /** After a scheme: {@code 1*SP token68} ends at a comma or the end, and has no "=" followed by a value. */
        private void skipToken68IfPresent() {
            int save = pos;
            if (pos >= s.length() || s.charAt(pos) != ' ') {
                return;
            }
            skipWhitespace();
            int start = pos;
            while (pos < s.length() && isToken68Char(s.charAt(pos))) {
                pos++;
            }
            if (pos == start) {
                pos = save;
                return;
            }
            while (pos < s.length() && s.charAt(pos) == '=') {
                pos++;
            }
            skipWhitespace();
            if (pos >= s.length() || s.charAt(pos) == ',') {
                return; // a token68 (e.g. Negotiate's blob): no params for us, skipped
            }
            // Not a token68 but "name=value": rewind so the main loop reads params.
            pos = save;
        }

        private static boolean isToken68Char(char c) {
            return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
        }

        private static boolean isTokenChar(char c) {
            if (c <= 0x20 || c >= 0x7f) {
                return false;
            }
            return "()<>@,;:\\\"/[]?={}".indexOf(c) < 0;
        }

        private String readToken() {
            int start = pos;
            while (pos < s.length() && isTokenChar(s.charAt(pos))) {
                pos++;
            }
            return s.substring(start, pos);
        }

        /** A token or a quoted-string; null when malformed (unterminated quote, nothing there). */
        private String readValue() {
            if (pos < s.length() && s.charAt(pos) == '"') {
                pos++;
                StringBuilder b = new StringBuilder();
                while (pos < s.length()) {
                    char c = s.charAt(pos++);
                    if (c == '\\') {
                        if (pos < s.length()) {
                            b.append(s.charAt(pos++));
                        }
                    } else if (c == '"') {
                        return b.toString();
                    } else {
                        b.append(c);
                    }
                }
                return null; // unterminated
            }
            // Be lenient: accept token68 characters in unquoted values (e.g. "/" in realms some servers send).
            int start = pos;
            while (pos < s.length() && (isTokenChar(s.charAt(pos)) || s.charAt(pos) == '/'
                    || s.charAt(pos) == ':' || s.charAt(pos) == '=')) {
                pos++;
            }
            return pos > start ? s.substring(start, pos) : null;
        }

        /** After a param value, only whitespace then a comma or the end may follow. */
        private boolean endOfElement() {
            skipWhitespace();
            return pos >= s.length() || s.charAt(pos) == ',';
        }

        /** Skips to the next comma that is not inside a quoted string. */
        private void skipElement() {
            boolean quoted = false;
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (quoted) {
                    if (c == '\\') {
                        pos++;
                    } else if (c == '"') {
                        quoted = false;
                    }
                } else if (c == '"') {
                    quoted = true;
                } else if (c == ',') {
                    return;
                }
                pos++;
            }
        }

        private void skipWhitespace() {
            while (pos < s.length() && (s.charAt(pos) == ' ' || s.charAt(pos) == '\t')) {
                pos++;
            }
        }

        private void skipWhitespaceAndCommas() {
            while (pos < s.length() && (s.charAt(pos) == ' ' || s.charAt(pos) == '\t' || s.charAt(pos) == ',')) {
                pos++;
            }
        }
    }
}
