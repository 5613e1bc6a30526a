package dev.wharf.auth.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * The ID token entry of client auth, {@link OidcIdTokens#verify}, on outside input: no crash, no exception but
 * {@link OidcTokenException} (always REFUSED: this verifier's keys are fixed, so it never asks a provider), and no
 * message that holds the token. The first byte picks what the rest is: 'T' a token as a client sends it (header,
 * parts, encodings), 'C' a claims set that this test signs with the verifier's own ES256 key, so the claim checks
 * behind the signature are fuzzed too. Here rather than in dev.wharf.fuzz: it needs the package's key seam. Run as
 * the other fuzz tests are (dev.wharf.fuzz's package doc); seeds in src/test/resources/dev/wharf/auth/access/.
 */
class OidcIdTokensFuzzTest {
    private static final URI ISSUER = URI.create("https://idp.example.com");
    private static final ECKey KEY = generate();
    private static final Clock CLOCK = Clock.fixed(Instant.ofEpochSecond(1_800_000_000L), ZoneOffset.UTC);
    private static final OidcIdTokens VERIFIER = new OidcIdTokens(ISSUER, "wharf", "groups",
            new JWKSet(KEY.toPublicJWK()), CLOCK);

    private static ECKey generate() {
        try {
            return new ECKeyGenerator(Curve.P_256).keyID("fuzz-key").generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    @FuzzTest(maxDuration = "5s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void idTokens(byte[] input) throws Exception {
        if (input.length == 0) {
            return;
        }
        String rest = new String(input, 1, input.length - 1, StandardCharsets.UTF_8);
        String token;
        if (input[0] == 'C') {
            JWSObject jws = new JWSObject(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("fuzz-key")
                    .type(JOSEObjectType.JWT).build(), new Payload(rest));
            jws.sign(new ECDSASigner(KEY));
            token = jws.serialize();
        } else {
            token = rest;
        }
        try {
            OidcIdentity id = VERIFIER.verify(token);
            assertNotNull(id.subject());
            assertFalse(id.username().isEmpty());
            assertFalse(id.username().contains(":"));
            assertNotNull(id.groups());
        } catch (OidcTokenException e) {
            assertEquals(OidcTokenException.Kind.REFUSED, e.kind(), e.getMessage());
            if (token.length() >= 16) {
                assertFalse(e.getMessage().contains(token), "the message holds the token: " + e.getMessage());
            }
        }
    }
}
