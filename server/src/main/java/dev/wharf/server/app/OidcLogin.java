package dev.wharf.server.app;

import dev.wharf.auth.access.IdTokenCheck;
import dev.wharf.server.config.AuthConfig;
import dev.wharf.server.config.ConfigException;

/**
 * {@code auth.oidc}: ID tokens as passwords, checked by the OIDC verifier ({@code dev.wharf.auth.access.OidcIdTokens},
 * built on its own branch). The mapping it will do: the verified identity's name becomes the principal
 * {@code oidc:<username>} (never an htpasswd name), and its groups count only through {@code auth.oidc.groups},
 * each mapped to the wharf groups listed there.
 */
final class OidcLogin {
    private OidcLogin() {
    }

    /*
     * Once OidcIdTokens is merged (branch i10oidc), the body of check() is:
     *
     *   OidcIdTokens verifier = new OidcIdTokens(oidc.issuer(), oidc.clientId(), oidc.groupsClaim());
     *   return idToken -> {
     *       try {
     *           OidcIdentity id = verifier.verify(idToken);
     *           return Optional.of(new Principal("oidc:" + id.username(), mappedGroups(oidc, id.groups())));
     *       } catch (OidcTokenException e) {
     *           if (e.kind() == OidcTokenException.Kind.PROVIDER_UNAVAILABLE) {
     *               throw new IllegalStateException(e.getMessage());
     *           }
     *           return Optional.empty();
     *       }
     *   };
     */
    static IdTokenCheck check(AuthConfig.Oidc oidc, String source) {
        // Until the verifier lands (merge of the OIDC branch), a config that asks for OIDC stops start-up rather
        // than pretending to check tokens.
        throw new ConfigException("auth.oidc: this build has no OIDC ID-token verifier yet (config " + source + ")");
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
