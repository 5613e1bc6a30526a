package dev.wharf.server.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Client auth ({@code auth:}): who may pull from wharf. Immutable; parsed by {@link AuthReader}.
 *
 * @param htpasswd          the htpasswd file of bcrypt entries ({@code auth.htpasswd}), or null
 * @param groups            group name to members, users or robots ({@code auth.groups})
 * @param admins            users and groups who may use {@code /api/v1} ({@code auth.admins})
 * @param tokenKey          the EC P-256 key tokens are signed with ({@code auth.tokenKey}), or null to generate one
 *                          under the storage root
 * @param tokenTtl          how long an issued token lives ({@code auth.tokenTtl}, 5m)
 * @param failedLoginBurst  failed logins allowed at once per address and per user ({@code auth.failedLogins.burst},
 *                          10)
 * @param failedLoginRefill how long until one more is allowed ({@code auth.failedLogins.refill}, 6s)
 * @param auditLog          {@code stdout}, {@code stderr} or a file for the audit log ({@code auth.auditLog}, stdout)
 * @param oidc              the OIDC provider whose ID tokens are accepted as passwords ({@code auth.oidc}), or null
 */
public record AuthConfig(Path htpasswd, Map<String, List<String>> groups, List<String> admins, Path tokenKey,
                         Duration tokenTtl, int failedLoginBurst, Duration failedLoginRefill, String auditLog,
                         Oidc oidc) {
    public AuthConfig {
        groups = Map.copyOf(groups);
        admins = List.copyOf(admins);
    }

    /**
     * {@code auth.oidc}.
     *
     * @param issuer      the issuer URL; its discovery document is {@code <issuer>/.well-known/openid-configuration}
     * @param clientId    the audience ID tokens must carry
     * @param groupsClaim the claim that lists a user's groups ({@code groups})
     * @param groups      OIDC group to the wharf groups it stands for; OIDC groups not listed give no rights
     */
    public record Oidc(URI issuer, String clientId, String groupsClaim, Map<String, List<String>> groups) {
        public Oidc {
            groups = Map.copyOf(groups);
        }
    }
}
