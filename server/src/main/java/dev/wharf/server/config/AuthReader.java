package dev.wharf.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads {@code auth:} (client auth) and checks it against the projects: a private project needs a way to log in.
 * Values are read through {@link ConfigReader}, which names the key and the file in every error.
 */
final class AuthReader {
    private static final Set<String> AUTH_KEYS = Set.of("htpasswd", "groups", "admins", "tokenKey", "tokenTtl",
            "failedLogins", "auditLog", "oidc");
    private static final Set<String> FAILED_LOGIN_KEYS = Set.of("burst", "refill");
    private static final Set<String> OIDC_KEYS = Set.of("issuer", "clientId", "groupsClaim", "groups");
    /** Names in groups, pull and admins: anything htpasswd allows in a name (robot$ci), no spaces or colons. */
    private static final Pattern NAME = Pattern.compile("[^\\s:]{1,128}");

    private final ConfigReader values;

    AuthReader(ConfigReader values) {
        this.values = values;
    }

    /** The {@code auth} section, or null when it is absent. */
    AuthConfig auth(ObjectNode top) {
        if (!top.has("auth")) {
            return null;
        }
        ObjectNode a = values.mapping(top.get("auth"), "auth", AUTH_KEYS);
        Path htpasswd = a.has("htpasswd") ? values.file(a.get("htpasswd"), "auth.htpasswd") : null;
        Map<String, List<String>> groups = a.has("groups") ? nameLists(a.get("groups"), "auth.groups") : Map.of();
        List<String> admins = a.has("admins") ? names(a.get("admins"), "auth.admins") : List.of();
        Path tokenKey = a.has("tokenKey") ? values.file(a.get("tokenKey"), "auth.tokenKey") : null;
        Duration ttl = Duration.ofMinutes(5);
        if (a.has("tokenTtl")) {
            ttl = values.duration(a.get("tokenTtl"), "auth.tokenTtl");
            if (ttl.compareTo(Duration.ofSeconds(30)) < 0 || ttl.compareTo(Duration.ofHours(24)) > 0) {
                throw values.fail("auth.tokenTtl", "must be between 30s and 24h");
            }
        }
        int burst = 10;
        Duration refill = Duration.ofSeconds(6);
        if (a.has("failedLogins")) {
            ObjectNode f = values.mapping(a.get("failedLogins"), "auth.failedLogins", FAILED_LOGIN_KEYS);
            if (f.has("burst")) {
                JsonNode b = f.get("burst");
                if (!b.isInt() || b.asInt() < 1 || b.asInt() > 10_000) {
                    throw values.fail("auth.failedLogins.burst", "must be a whole number from 1 to 10000");
                }
                burst = b.asInt();
            }
            if (f.has("refill")) {
                refill = values.duration(f.get("refill"), "auth.failedLogins.refill");
                if (refill.isZero()) {
                    throw values.fail("auth.failedLogins.refill", "must be longer than 0");
                }
            }
        }
        String auditLog = "stdout";
        if (a.has("auditLog")) {
            auditLog = values.string(a.get("auditLog"), "auth.auditLog");
            if (auditLog.isBlank()) {
                throw values.fail("auth.auditLog", "must be stdout, stderr or a file path");
            }
        }
        AuthConfig.Oidc oidc = a.has("oidc") ? oidc(a.get("oidc")) : null;
        if (htpasswd == null && oidc == null) {
            throw values.fail("auth", "needs htpasswd or oidc: a way for clients to log in");
        }
        return new AuthConfig(htpasswd, groups, admins, tokenKey, ttl, burst, refill, auditLog, oidc);
    }

    private AuthConfig.Oidc oidc(JsonNode node) {
        ObjectNode o = values.mapping(node, "auth.oidc", OIDC_KEYS);
        if (!o.has("issuer")) {
            throw values.fail("auth.oidc.issuer", "is required");
        }
        if (!o.has("clientId")) {
            throw values.fail("auth.oidc.clientId", "is required");
        }
        URI issuer = values.url(values.string(o.get("issuer"), "auth.oidc.issuer"), "auth.oidc.issuer");
        String clientId = values.string(o.get("clientId"), "auth.oidc.clientId");
        String claim = o.has("groupsClaim") ? values.string(o.get("groupsClaim"), "auth.oidc.groupsClaim") : "groups";
        Map<String, List<String>> groups = o.has("groups")
                ? nameLists(o.get("groups"), "auth.oidc.groups") : Map.of();
        return new AuthConfig.Oidc(issuer, clientId, claim, groups);
    }

    private Map<String, List<String>> nameLists(JsonNode node, String key) {
        ObjectNode m = values.object(node, key);
        Map<String, List<String>> out = new LinkedHashMap<>();
        m.fields().forEachRemaining(e -> {
            String k = key + "." + e.getKey();
            if (!NAME.matcher(e.getKey()).matches()) {
                throw values.fail(k, "is not a usable name (no spaces or colons, at most 128 characters)");
            }
            out.put(e.getKey(), names(e.getValue(), k));
        });
        return out;
    }

    private List<String> names(JsonNode node, String key) {
        List<String> list = values.stringList(node, key);
        for (int i = 0; i < list.size(); i++) {
            if (!NAME.matcher(list.get(i)).matches()) {
                throw values.fail(key + "[" + i + "]", "is not a usable name (no spaces or colons, at most 128 "
                        + "characters)");
            }
        }
        return list;
    }

    /**
     * Stops start-up when a project is private and no {@code auth} is configured: nobody could pull from it. The
     * message names the project and both ways out.
     */
    void checkPrivateProjects(List<ProjectConfig> projects, AuthConfig auth) {
        if (auth != null) {
            return;
        }
        for (int i = 0; i < projects.size(); i++) {
            ProjectConfig p = projects.get(i);
            if (p.isPrivate()) {
                String why = p.username() != null || p.ecr() != null || EcrConfig.impliedBy(p.upstreams())
                        ? " (it carries upstream credentials, so it is private unless it says otherwise)" : "";
                throw values.fail("projects[" + i + "]", "project '" + p.name() + "' is private" + why
                        + ", but no auth is configured, so nobody could pull from it. Either configure auth "
                        + "(auth.htpasswd or auth.oidc, and list who may pull in projects[" + i + "].pull), or set "
                        + "projects[" + i + "].visibility: public to let everyone who reaches wharf pull through "
                        + "its credentials");
            }
        }
    }
}
