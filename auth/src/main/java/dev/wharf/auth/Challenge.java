package dev.wharf.auth;

import java.util.List;
import java.util.Map;

/**
 * One parsed {@code WWW-Authenticate} challenge, e.g.
 * {@code Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"}.
 *
 * @param scheme lower-case scheme ({@code bearer}, {@code basic})
 * @param params auth-params, keys lower-case, values unquoted
 */
public record Challenge(String scheme, Map<String, String> params) {

    /** Parses a header value that may hold several challenges; malformed parts are skipped, never thrown. */
    public static List<Challenge> parse(String headerValue) {
        throw new UnsupportedOperationException("TODO");
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
}
