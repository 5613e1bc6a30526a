package dev.wharf.auth.access;

import java.util.Objects;
import java.util.Set;

/**
 * Who a verified OIDC ID token names.
 *
 * @param subject  the {@code sub} claim: stable and unique at the issuer
 * @param username the name wharf's {@code pull} lists and audit log use: {@code preferred_username}, else
 *                 {@code email}, else {@code sub} (the first that is a usable user name, see
 *                 {@link OidcIdTokens#verify})
 * @param groups   the strings of the configured groups claim; empty when the token has none
 */
public record OidcIdentity(String subject, String username, Set<String> groups) {
    public OidcIdentity {
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(username, "username");
        groups = Set.copyOf(groups);
    }
}
