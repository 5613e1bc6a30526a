package dev.wharf.auth.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import dev.wharf.testing.OidcProvider;
import dev.wharf.testing.Ports;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link OidcIdTokens} against a real provider (Ory Hydra on loopback): its own ID tokens are accepted with their
 * groups, and forged, foreign, expired and unsigned ones are refused with a message that never holds the token.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class OidcIdTokensTest {
    @RegisterExtension
    static final OidcProvider HYDRA = new OidcProvider();
    private static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void clients() {
        HYDRA.createClient("wharf");
        HYDRA.createClient("other-app");
    }

    /** The system clock moved by hand, so a test can step past a token's expiry or the fetch gap. */
    private static final class ShiftedClock extends Clock {
        private volatile Duration shift = Duration.ZERO;

        void advance(Duration d) {
            shift = shift.plus(d);
        }

        @Override
        public Instant instant() {
            return Instant.now().plus(shift);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }
    }

    private static OidcIdTokens verifier(String clientId, Clock clock) {
        return new OidcIdTokens(HYDRA.issuer(), clientId, OidcProvider.GROUPS_CLAIM, HttpClient.newHttpClient(), clock);
    }

    /** Asserts a refusal of {@code kind} whose message says {@code why} and holds no part of {@code token}. */
    private static OidcTokenException refused(OidcIdTokens v, String token, OidcTokenException.Kind kind, String why) {
        OidcTokenException e = assertThrows(OidcTokenException.class, () -> v.verify(token));
        assertEquals(kind, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
        for (String part : token.split("\\.")) {
            if (part.length() > 8) {
                assertFalse(e.getMessage().contains(part), "the message holds part of the token: " + e.getMessage());
            }
        }
        assertFalse(e.toString().contains(token));
        return e;
    }

    @Test
    void hydrasOwnTokenIsAcceptedWithItsGroups() throws Exception {
        OidcIdTokens v = verifier("wharf", Clock.systemUTC());
        OidcIdentity alice = v.verify(HYDRA.mintIdToken("wharf", "alice", List.of("ci", "dev")));
        assertEquals(new OidcIdentity("alice", "alice", Set.of("ci", "dev")), alice);
        OidcIdentity bob = v.verify(HYDRA.mintIdToken("wharf", "bob", List.of()));
        assertEquals("bob", bob.username());
        assertEquals(Set.of(), bob.groups());
    }

    @Test
    void usernameIsPreferredUsernameElseEmailElseSubject() throws Exception {
        OidcIdTokens v = verifier("wharf", Clock.systemUTC());
        ObjectNode withEmail = JSON.createObjectNode().put("email", "carol@example.com");
        withEmail.putArray("groups").add("ci");
        assertEquals(new OidcIdentity("u-123", "carol@example.com", Set.of("ci")),
                v.verify(HYDRA.mintIdToken("wharf", "u-123", withEmail)));
        // A preferred_username with ':' could not travel in Basic credentials: the next candidate is used.
        ObjectNode badName = JSON.createObjectNode().put("preferred_username", "dave:admin");
        assertEquals("u-456", v.verify(HYDRA.mintIdToken("wharf", "u-456", badName)).username());
        // No groups claim at all: no groups.
        assertEquals(Set.of(), v.verify(HYDRA.mintIdToken("wharf", "u-456", JSON.createObjectNode())).groups());
    }

    @Test
    void aTokenForAnotherClientIsRefused() {
        String token = HYDRA.mintIdToken("other-app", "alice", List.of("ci"));
        refused(verifier("wharf", Clock.systemUTC()), token, OidcTokenException.Kind.REFUSED, "audience");
    }

    @Test
    void anExpiredTokenIsRefused() throws Exception {
        ShiftedClock clock = new ShiftedClock();
        OidcIdTokens v = verifier("wharf", clock);
        String token = HYDRA.mintIdToken("wharf", "alice", List.of("ci"));
        v.verify(token);
        clock.advance(Duration.ofHours(1).plus(OidcIdTokens.CLOCK_SKEW)); // Hydra's ID tokens live 1 h
        refused(v, token, OidcTokenException.Kind.REFUSED, "expired");
    }

    @Test
    void aTamperedPayloadIsRefused() throws Exception {
        String token = HYDRA.mintIdToken("wharf", "bob", List.of());
        String[] parts = token.split("\\.");
        ObjectNode claims = (ObjectNode) JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
        claims.putArray("groups").add("admins");
        String forged = parts[0] + "." + b64(claims.toString()) + "." + parts[2];
        refused(verifier("wharf", Clock.systemUTC()), forged, OidcTokenException.Kind.REFUSED, "signature");
    }

    @Test
    void aTokenReSignedWithAnotherKeyUnderHydrasKidIsRefused() throws Exception {
        SignedJWT real = SignedJWT.parse(HYDRA.mintIdToken("wharf", "bob", List.of()));
        RSAKey attacker = new RSAKeyGenerator(2048).keyID(real.getHeader().getKeyID()).generate();
        SignedJWT forged = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256)
                .keyID(real.getHeader().getKeyID()).build(), real.getJWTClaimsSet());
        forged.sign(new RSASSASigner(attacker));
        refused(verifier("wharf", Clock.systemUTC()), forged.serialize(), OidcTokenException.Kind.REFUSED,
                "signature");
    }

    @Test
    void unsignedAndHmacTokensAreRefused() throws Exception {
        SignedJWT real = SignedJWT.parse(HYDRA.mintIdToken("wharf", "bob", List.of()));
        OidcIdTokens v = verifier("wharf", Clock.systemUTC());
        String none = new PlainJWT(real.getJWTClaimsSet()).serialize();
        refused(v, none, OidcTokenException.Kind.REFUSED, "alg: none");
        // alg none written by hand, with a signature part, as some forgeries do.
        String noneWithSig = b64("{\"alg\":\"none\",\"kid\":\"" + real.getHeader().getKeyID() + "\"}") + "."
                + real.serialize().split("\\.")[1] + "." + real.serialize().split("\\.")[2];
        refused(v, noneWithSig, OidcTokenException.Kind.REFUSED, "alg: none");
        // HS256 keyed with the public key's bytes: the classic confusion attack.
        SignedJWT hmac = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256)
                .keyID(real.getHeader().getKeyID()).build(), real.getJWTClaimsSet());
        hmac.sign(new MACSigner("0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8)));
        refused(v, hmac.serialize(), OidcTokenException.Kind.REFUSED, "HS256");
        refused(v, "not-a-token", OidcTokenException.Kind.REFUSED, "not a compact JWS");
    }

    @Test
    void anUnknownKidIsRefusedAfterOneRateLimitedRefetch() throws Exception {
        JWTClaimsSet claims = SignedJWT.parse(HYDRA.mintIdToken("wharf", "bob", List.of())).getJWTClaimsSet();
        RSAKey attacker = new RSAKeyGenerator(2048).keyID("attackers-key").generate();
        SignedJWT forged = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("attackers-key").build(),
                claims);
        forged.sign(new RSASSASigner(attacker));
        refused(verifier("wharf", Clock.systemUTC()), forged.serialize(), OidcTokenException.Kind.REFUSED,
                "not in the key set");
    }

    @Test
    void aRotatedKeyIsFetchedOnItsFirstTokenButNoSoonerThanTheFetchGap() throws Exception {
        ShiftedClock clock = new ShiftedClock();
        OidcIdTokens v = verifier("wharf", clock);
        v.verify(HYDRA.mintIdToken("wharf", "alice", List.of("ci")));
        String kid = HYDRA.rotateIdTokenKey("ES256");
        String token = HYDRA.mintIdToken("wharf", "alice", List.of("ci"));
        assertEquals(kid, SignedJWT.parse(token).getHeader().getKeyID());
        assertEquals(JWSAlgorithm.ES256, SignedJWT.parse(token).getHeader().getAlgorithm());
        // The keys were fetched a moment ago: an unknown kid does not make the verifier ask again yet.
        refused(v, token, OidcTokenException.Kind.REFUSED, "not in the key set");
        clock.advance(OidcIdTokens.MIN_FETCH_GAP);
        assertEquals(Set.of("ci"), v.verify(token).groups());
        HYDRA.rotateIdTokenKey("RS256"); // back to RSA for the other tests' sake
    }

    @Test
    void anIssuerThatDiffersFromTheDiscoveryDocumentIsRefused() {
        String token = HYDRA.mintIdToken("wharf", "alice", List.of("ci"));
        OidcIdTokens v = new OidcIdTokens(URI.create("http://localhost:" + HYDRA.publicPort()), "wharf", "groups",
                HttpClient.newHttpClient(), Clock.systemUTC());
        refused(v, token, OidcTokenException.Kind.PROVIDER_UNAVAILABLE, "not the configured");
    }

    @Test
    void aProviderThatIsDownGivesAClearError() {
        String token = HYDRA.mintIdToken("wharf", "alice", List.of("ci"));
        URI down = URI.create("http://127.0.0.1:" + Ports.free());
        OidcIdTokens v = new OidcIdTokens(down, "wharf", "groups", HttpClient.newHttpClient(), Clock.systemUTC());
        OidcTokenException e = refused(v, token, OidcTokenException.Kind.PROVIDER_UNAVAILABLE, "unreachable");
        assertTrue(e.getMessage().contains(down.toString()), e.getMessage());
        // The next attempt within the fetch gap answers at once with the same reason.
        refused(v, token, OidcTokenException.Kind.PROVIDER_UNAVAILABLE, "unreachable");
    }

    @Test
    void anIssuerMustBeHttpsUnlessLoopback() {
        assertThrows(IllegalArgumentException.class,
                () -> new OidcIdTokens(URI.create("http://dex.example.com"), "wharf", "groups"));
        assertThrows(IllegalArgumentException.class,
                () -> new OidcIdTokens(URI.create("https://dex.example.com?x=1"), "wharf", "groups"));
        assertThrows(IllegalArgumentException.class,
                () -> new OidcIdTokens(URI.create("https://dex.example.com"), " ", "groups"));
        new OidcIdTokens(URI.create("https://dex.example.com"), "wharf", "groups");
        new OidcIdTokens(URI.create("http://[::1]:5556/dex"), "wharf", "groups");
        new OidcIdTokens(URI.create("http://localhost:5556"), "wharf", null);
    }

    @Test
    void severalAudiencesNeedAnAzpNamingThisClient() throws Exception {
        // Hydra puts one audience in its ID tokens; these are signed with a key of the test's own (the seam the fuzz
        // test uses), to reach the azp rule.
        com.nimbusds.jose.jwk.ECKey key = new com.nimbusds.jose.jwk.gen.ECKeyGenerator(
                com.nimbusds.jose.jwk.Curve.P_256).keyID("k1").generate();
        Instant now = Instant.now();
        OidcIdTokens v = new OidcIdTokens(URI.create("https://idp.example.com"), "wharf", "groups",
                new com.nimbusds.jose.jwk.JWKSet(key.toPublicJWK()), Clock.systemUTC());
        JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder().issuer("https://idp.example.com").subject("alice")
                .issueTime(java.util.Date.from(now)).expirationTime(java.util.Date.from(now.plusSeconds(600)))
                .audience(List.of("wharf", "other"));
        assertEquals(new OidcIdentity("alice", "alice", Set.of()), v.verify(es256(key, claims.claim("azp", "wharf"))));
        refused(v, es256(key, claims.claim("azp", "other")), OidcTokenException.Kind.REFUSED, "another client");
        refused(v, es256(key, claims.claim("azp", null)), OidcTokenException.Kind.REFUSED, "several audiences");
        refused(v, es256(key, claims.audience("wharf").issuer("https://evil.example.com")),
                OidcTokenException.Kind.REFUSED, "issuer");
    }

    private static String es256(com.nimbusds.jose.jwk.ECKey key, JWTClaimsSet.Builder claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(key.getKeyID()).build(),
                claims.build());
        jwt.sign(new com.nimbusds.jose.crypto.ECDSASigner(key));
        return jwt.serialize();
    }

    private static String b64(String s) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }
}
