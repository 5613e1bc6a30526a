package dev.wharf.auth.access;

import java.util.Optional;

/**
 * Checks a password that is an OIDC ID token (Harbor's CLI-secret flow, zot): the principal it names, with its
 * groups already mapped to wharf's, or empty when the token is refused. Throws {@link IllegalStateException} when
 * the provider cannot be asked (nothing is known about the token then). Implemented over the OIDC verifier.
 */
@FunctionalInterface
public interface IdTokenCheck {
    Optional<Principal> check(String idToken);
}
