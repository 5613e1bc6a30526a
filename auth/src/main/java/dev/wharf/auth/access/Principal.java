package dev.wharf.auth.access;

import java.util.Objects;
import java.util.Set;

/**
 * Who a request acts for, once a password, a token or an ID token has been checked.
 *
 * @param name   the user or robot name ({@code alice}, {@code robot$ci}); what {@code pull} lists and the audit log
 *               name
 * @param groups groups the principal belongs to beyond {@code auth.groups} (an OIDC token's mapped groups)
 */
public record Principal(String name, Set<String> groups) {
    public Principal {
        Objects.requireNonNull(name, "name");
        groups = Set.copyOf(groups);
    }

    public static Principal user(String name) {
        return new Principal(name, Set.of());
    }
}
