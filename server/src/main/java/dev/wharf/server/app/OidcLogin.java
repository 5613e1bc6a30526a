package dev.wharf.server.app;

import dev.wharf.auth.access.IdTokenCheck;
import dev.wharf.auth.access.OidcIdTokens;
import dev.wharf.auth.access.OidcIdentity;
import dev.wharf.auth.access.OidcTokenException;
import dev.wharf.auth.access.Principal;
import dev.wharf.server.config.AuthConfig;
import java.util.Optional;

/**
 * {@code auth.oidc}: ID tokens as passwords, checked by the OIDC verifier ({@link OidcIdTokens}). The verified
 * identity's name becomes the principal
 * {@code oidc:<username>} (never an htpasswd name), and its groups count only through {@code auth.oidc.groups},
 * each mapped to the wharf groups listed there.
 */
final class OidcLogin {
    private OidcLogin() {
    }

    /**
     * The check the token endpoint and Basic on {@code /v2} use for passwords that are ID tokens: verified by
     * {@link OidcIdTokens} (discovery, JWKS, audience, expiry), then mapped. A provider that cannot be asked is an
     * {@link IllegalStateException} (the login fails as unavailable, not as a wrong password).
     */
    static IdTokenCheck check(AuthConfig.Oidc oidc, String source) {
        OidcIdTokens verifier = new OidcIdTokens(oidc.issuer(), oidc.clientId(), oidc.groupsClaim());
        return idToken -> {
            try {
                OidcIdentity id = verifier.verify(idToken);
                return Optional.of(new Principal("oidc:" + id.username(), mappedGroups(oidc, id.groups())));
            } catch (OidcTokenException e) {
                if (e.kind() == OidcTokenException.Kind.PROVIDER_UNAVAILABLE) {
                    throw new IllegalStateException(e.getMessage());
                }
                return Optional.empty();
            }
        };
    }

    /** The wharf groups that {@code oidcGroups} stand for under {@code auth.oidc.groups}. */
    static java.util.Set<String> mappedGroups(AuthConfig.Oidc oidc, java.util.Set<String> oidcGroups) {
        java.util.Set<String> out = new java.util.HashSet<>();
        for (String g : oidcGroups) {
            out.addAll(oidc.groups().getOrDefault(g, java.util.List.of()));
        }
        return out;
    }
}
