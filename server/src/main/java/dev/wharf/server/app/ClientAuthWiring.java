package dev.wharf.server.app;

import dev.wharf.auth.access.AccessRules;
import dev.wharf.auth.access.AccessTokens;
import dev.wharf.auth.access.Htpasswd;
import dev.wharf.auth.access.IdTokenCheck;
import dev.wharf.auth.access.LoginThrottle;
import dev.wharf.auth.access.Logins;
import dev.wharf.auth.access.TokenKey;
import dev.wharf.server.access.AuditLog;
import dev.wharf.server.access.ClientAccess;
import dev.wharf.server.config.AuthConfig;
import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.config.WharfConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Builds client auth from {@code auth:} and the projects' visibility: null when {@code auth} is absent. */
final class ClientAuthWiring {
    private static final Logger LOG = LoggerFactory.getLogger(ClientAuthWiring.class);
    /** Where the generated token key lives under the storage root. */
    static final Path GENERATED_KEY = Path.of("auth", "token-key.pem");

    private ClientAuthWiring() {
    }

    static ClientAccess build(WharfConfig config) {
        AuthConfig auth = config.auth();
        if (auth == null) {
            return null;
        }
        Map<String, AccessRules.ProjectAccess> projects = new HashMap<>();
        for (ProjectConfig p : config.projects()) {
            projects.put(p.name(), new AccessRules.ProjectAccess(!p.isPrivate(), new java.util.HashSet<>(p.pull())));
        }
        AccessRules rules = new AccessRules(projects, auth.groups(), auth.admins());
        Htpasswd htpasswd = null;
        TokenKey key;
        AuditLog audit;
        try {
            if (auth.htpasswd() != null) {
                htpasswd = Htpasswd.load(auth.htpasswd(), Clock.systemUTC()).watch();
            }
            key = auth.tokenKey() != null ? TokenKey.read(auth.tokenKey())
                    : TokenKey.readOrGenerate(config.storagePath().resolve(GENERATED_KEY));
            audit = AuditLog.open(auth.auditLog());
        } catch (IOException e) {
            if (htpasswd != null) {
                htpasswd.close();
            }
            String what = e instanceof java.nio.file.NoSuchFileException || e instanceof java.nio.file.AccessDeniedException
                    ? "auth: file " + e.getMessage() + " cannot be read" : "auth: " + e.getMessage();
            throw new ConfigException(what + " (config " + config.source() + ")");
        }
        IdTokenCheck oidc = null;
        if (auth.oidc() != null) {
            oidc = OidcLogin.check(auth.oidc(), config.source());
        }
        Logins logins = new Logins(htpasswd, oidc,
                new LoginThrottle(auth.failedLoginBurst(), auth.failedLoginRefill(), Clock.systemUTC()));
        AccessTokens tokens = new AccessTokens(key, ClientAccess.SERVICE, auth.tokenTtl(), Clock.systemUTC());
        LOG.info("client auth on: private projects {}; tokens live {}",
                config.projects().stream().filter(ProjectConfig::isPrivate).map(ProjectConfig::name).toList(),
                auth.tokenTtl());
        ClientAccess access = new ClientAccess(rules, tokens, logins, audit).closing(audit);
        return htpasswd == null ? access : access.closing(htpasswd);
    }

    static void close(ClientAccess access) {
        access.close();
    }
}
