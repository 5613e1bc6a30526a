package dev.wharf.auth.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The parts of client auth, each on its own: htpasswd, rules, scopes, tokens, the key, the throttle, logins. */
class ClientAuthUnitsTest {
    @TempDir
    Path tmp;

    /** A clock the test moves. */
    static final class MovableClock extends Clock {
        final AtomicLong millis = new AtomicLong(1_700_000_000_000L);

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(millis.get());
        }
    }

    static String bcrypt(String password) {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        return OpenBSDBCrypt.generate("2y", password.toCharArray(), salt, 4);
    }

    @Test
    void htpasswdChecksBcryptEntriesKeepsRobotNamesAndIgnoresOtherFormats() throws Exception {
        Path f = tmp.resolve("htpasswd");
        Files.writeString(f, "# users\nrobot$ci:" + bcrypt("s3cret") + "\nmd5user:$apr1$abc$def\nplain:pw\n");
        Htpasswd h = Htpasswd.load(f, Clock.systemUTC());
        assertTrue(h.check("robot$ci", "s3cret"));
        assertFalse(h.check("robot$ci", "S3cret"));
        assertFalse(h.has("md5user"), "only bcrypt entries count");
        assertFalse(h.check("plain", "pw"));
        assertFalse(h.check("nobody", "s3cret"));
    }

    @Test
    void htpasswdReadsAChangedFileAndTheOldPasswordStops() throws Exception {
        Path f = tmp.resolve("htpasswd");
        Files.writeString(f, "bob:" + bcrypt("old") + "\n");
        Htpasswd h = Htpasswd.load(f, Clock.systemUTC());
        String before = h.generation();
        Files.writeString(f, "bob:" + bcrypt("new-and-longer") + "\n");
        h.reloadIfChanged();
        assertTrue(h.check("bob", "new-and-longer"));
        assertFalse(h.check("bob", "old"));
        assertFalse(before.equals(h.generation()), "a changed file is a new generation");
        Files.delete(f);
        h.reloadIfChanged();
        assertTrue(h.check("bob", "new-and-longer"), "a vanished file keeps the last good entries");
    }

    @Test
    void rulesLetPublicProjectsToAnyoneAndPrivateOnesToListedUsersAndGroups() {
        AccessRules r = new AccessRules(Map.of("pub", new AccessRules.ProjectAccess(true, Set.of()),
                "priv", new AccessRules.ProjectAccess(false, Set.of("ci", "bob"))),
                Map.of("ci", List.of("robot$ci")), List.of("alice"));
        assertTrue(r.mayPull(null, "pub"));
        assertFalse(r.mayPull(null, "priv"));
        assertTrue(r.mayPull(Principal.user("robot$ci"), "priv"), "through group ci");
        assertTrue(r.mayPull(Principal.user("bob"), "priv"), "by name");
        assertFalse(r.mayPull(Principal.user("carol"), "priv"));
        assertTrue(r.mayPull(new Principal("oidc:dana", Set.of("ci")), "priv"), "a group the principal brings");
        assertFalse(r.mayPull(Principal.user("bob"), "unknown"));
        assertTrue(r.isAdmin(Principal.user("alice")));
        assertFalse(r.isAdmin(Principal.user("bob")));
        assertTrue(r.anyPrivate());
    }

    @Test
    void scopesParseAsTheTokenSpecWritesThem() {
        Scope s = Scope.parse("repository:p/a/b:pull,push");
        assertEquals("p/a/b", s.name());
        assertEquals("repository:p/a/b:pull,push", s.text());
        // The type ends at the first colon, the actions start after the last; a host:port name is not wharf's.
        assertThrows(IllegalArgumentException.class, () -> Scope.parse("repository:localhost:5000/a:pull"));
        assertThrows(IllegalArgumentException.class, () -> Scope.parse("repository:a/B:pull"));
        assertThrows(IllegalArgumentException.class, () -> Scope.parse("registry:catalog:*"));
        assertThrows(IllegalArgumentException.class, () -> Scope.parse("repository:a/../b:pull"));
        List<Scope> all = Scope.parseAll(List.of("repository:p/a:pull repository:p/b:pull,push", "junk"));
        assertEquals(List.of("p/a", "p/b"), all.stream().map(Scope::name).toList());
        assertEquals(Set.of("pull", "push"), all.get(1).actions());
    }

    @Test
    void tokensRoundTripAndExpire() throws Exception {
        MovableClock clock = new MovableClock();
        TokenKey key = TokenKey.readOrGenerate(tmp.resolve("k/key.pem"));
        AccessTokens tokens = new AccessTokens(key, "wharf", Duration.ofMinutes(5), clock);
        AccessTokens.Issued t = tokens.issue(Principal.user("robot$ci"), List.of(Scope.pull("p/a")));
        AccessTokens.Verified v = tokens.verify(t.token());
        assertEquals("robot$ci", v.principal().name());
        assertTrue(v.grants("p/a", "pull"));
        assertFalse(v.grants("p/b", "pull"));
        assertFalse(t.toString().contains(t.token()), "toString hides the token");
        clock.millis.addAndGet(Duration.ofMinutes(6).toMillis());
        AccessTokens.Refused e = assertThrows(AccessTokens.Refused.class, () -> tokens.verify(t.token()));
        assertEquals("expired", e.getMessage());
        assertThrows(AccessTokens.Refused.class, () -> new AccessTokens(key, "other", Duration.ofMinutes(5), clock)
                .verify(tokens.issue(null, List.of()).token()));
    }

    @Test
    void theGeneratedKeyIsOwnerOnlyAndReadBackTheSame() throws Exception {
        Path file = tmp.resolve("auth/token-key.pem");
        TokenKey first = TokenKey.readOrGenerate(file);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        TokenKey again = TokenKey.readOrGenerate(file);
        assertEquals(first.publicKey(), again.publicKey(), "generated once, read on every later start");
        Files.writeString(tmp.resolve("bad.pem"), "not a key");
        assertThrows(java.io.IOException.class, () -> TokenKey.read(tmp.resolve("bad.pem")));
    }

    @Test
    void failedLoginsEmptyTheBucketAndTimeRefillsIt() {
        MovableClock clock = new MovableClock();
        LoginThrottle t = new LoginThrottle(2, Duration.ofSeconds(10), clock);
        assertEquals(Duration.ZERO, t.wait("10.0.0.1", "bob"));
        t.failed("10.0.0.1", "bob");
        t.failed("10.0.0.1", "bob");
        assertEquals(Duration.ofSeconds(10), t.wait("10.0.0.1", "carol"), "the address is slowed for any user");
        assertEquals(Duration.ofSeconds(10), t.wait("10.0.0.2", "bob"), "the user is slowed from any address");
        assertEquals(Duration.ZERO, t.wait("10.0.0.2", "carol"));
        clock.millis.addAndGet(4_000);
        assertEquals(Duration.ofSeconds(6), t.wait("10.0.0.1", null));
        clock.millis.addAndGet(6_000);
        assertEquals(Duration.ZERO, t.wait("10.0.0.1", "bob"));
    }

    @Test
    void loginsCheckThrottleAndRememberOnlyTheRightPassword() throws Exception {
        Path f = tmp.resolve("htpasswd");
        Files.writeString(f, "bob:" + bcrypt("right") + "\n");
        Htpasswd h = Htpasswd.load(f, Clock.systemUTC());
        MovableClock clock = new MovableClock();
        Logins logins = new Logins(h, null, new LoginThrottle(2, Duration.ofMinutes(1), clock));
        BasicCredentials right = new BasicCredentials("bob", "right");
        assertTrue(logins.remembered(right).isEmpty());
        assertTrue(logins.login("a", right) instanceof Logins.Accepted);
        assertTrue(logins.remembered(right).isPresent());
        BasicCredentials wrong = new BasicCredentials("bob", "wrong");
        assertTrue(logins.login("a", wrong) instanceof Logins.Refused);
        assertTrue(logins.remembered(wrong).isEmpty());
        assertTrue(logins.login("a", wrong) instanceof Logins.Refused);
        assertTrue(logins.login("a", wrong) instanceof Logins.Slowed);
        Files.writeString(f, "bob:" + bcrypt("changed-password") + "\n");
        h.reloadIfChanged();
        assertTrue(logins.remembered(right).isEmpty(), "a changed file is never answered from memory");
    }
}
