package dev.wharf.auth.access;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Optional;

/**
 * One login with a user name and password: through the failed-login throttle, then the htpasswd file, then (when
 * configured, and the password looks like a JWT) the OIDC ID-token check. A password checked right is remembered
 * for a minute by the SHA-256 of (htpasswd generation, user, password), so Basic on every {@code /v2} request does
 * not run bcrypt every time, and a changed htpasswd file is never answered from memory.
 *
 * <p>Threads: {@link #login} may run bcrypt or ask the OIDC provider; call it off the event loops.
 * {@link #remembered} never blocks (a cache lookup), so an event loop may ask it first.
 */
public final class Logins {
    /** What a login came to. */
    public sealed interface Outcome {
    }

    /** The credentials are right: {@code principal} acts. */
    public record Accepted(Principal principal) implements Outcome {
    }

    /** Wrong credentials (counted by the throttle). The reason is for the audit log; it holds no secret. */
    public record Refused(String reason) implements Outcome {
    }

    /** Too many failed logins from this address or for this user: try again after {@code retryAfter}. */
    public record Slowed(Duration retryAfter) implements Outcome {
    }

    /** The OIDC provider could not be asked. */
    public record Unavailable(String reason) implements Outcome {
    }

    private final Htpasswd htpasswd;
    private final IdTokenCheck oidc;
    private final LoginThrottle throttle;
    private final Cache<String, Principal> checked = Caffeine.newBuilder().maximumSize(10_000)
            .expireAfterWrite(Duration.ofMinutes(1)).build();

    /** {@code htpasswd} or {@code oidc} may be null (not configured), not both. */
    public Logins(Htpasswd htpasswd, IdTokenCheck oidc, LoginThrottle throttle) {
        this.htpasswd = htpasswd;
        this.oidc = oidc;
        this.throttle = throttle;
    }

    /** The principal of credentials checked right within the last minute (and the same htpasswd), or empty. */
    public Optional<Principal> remembered(BasicCredentials c) {
        return Optional.ofNullable(checked.getIfPresent(key(c)));
    }

    /** Checks {@code c} for a client at {@code address}; runs bcrypt or asks the OIDC provider. */
    public Outcome login(String address, BasicCredentials c) {
        Principal known = checked.getIfPresent(key(c));
        if (known != null) {
            return new Accepted(known);
        }
        Duration wait = throttle.wait(address, c.user());
        if (!wait.isZero()) {
            return new Slowed(wait);
        }
        Principal who = null;
        String reason = "unknown user or wrong password";
        if (htpasswd != null && htpasswd.has(c.user())) {
            if (htpasswd.check(c.user(), c.password())) {
                who = Principal.user(c.user());
            }
        } else if (oidc != null && looksLikeJwt(c.password())) {
            try {
                who = oidc.check(c.password()).orElse(null);
                reason = "ID token refused";
            } catch (IllegalStateException e) {
                return new Unavailable(e.getMessage());
            }
        }
        if (who == null) {
            throttle.failed(address, c.user());
            return new Refused(reason);
        }
        checked.put(key(c), who);
        return new Accepted(who);
    }

    private static boolean looksLikeJwt(String s) {
        return s.length() > 20 && s.chars().filter(ch -> ch == '.').count() == 2;
    }

    private String key(BasicCredentials c) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update((htpasswd == null ? "" : htpasswd.generation()).getBytes(StandardCharsets.UTF_8));
            d.update((byte) 0);
            d.update(c.user().getBytes(StandardCharsets.UTF_8));
            d.update((byte) 0);
            d.update(c.password().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
