package dev.wharf.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DigestTest {
    private static final String HEX64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    @Test
    void parsesSha256AndSha512() {
        Digest d = Digest.parse("sha256:" + HEX64);
        assertEquals("sha256", d.algorithm());
        assertEquals(HEX64, d.hex());
        assertEquals("sha256:" + HEX64, d.toString());
        assertEquals("SHA-256", d.jcaAlgorithm());

        Digest d512 = Digest.parse("sha512:" + HEX64 + HEX64);
        assertEquals("SHA-512", d512.jcaAlgorithm());
        assertEquals(Digest.parse(d512.toString()), d512);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "sha256",
        "sha256:",
        ":" + HEX64,
        HEX64,                                                                   // missing colon and algorithm
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", // 63 hex
        "sha256:" + HEX64 + "0",                                                 // 65 hex
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", // upper-case hex
        "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", // not hex
        "SHA256:" + HEX64,                                                       // algorithm is case-sensitive
        "md5:d41d8cd98f00b204e9800998ecf8427e",                                  // unknown algorithm
        "sha384:" + HEX64,
        "sha512:" + HEX64,                                                       // sha512 needs 128 hex
        "sha256:../../../../etc/passwd",
        "sha256:" + HEX64 + "\n",
        "sha256: " + HEX64,
    })
    void rejectsInvalid(String text) {
        assertThrows(IllegalArgumentException.class, () -> Digest.parse(text));
    }

    @Test
    void rejectsNulls() {
        assertThrows(IllegalArgumentException.class, () -> Digest.parse(null));
        assertThrows(IllegalArgumentException.class, () -> new Digest(null, HEX64));
        assertThrows(IllegalArgumentException.class, () -> new Digest("sha256", null));
    }

    @Test
    void looksLikeDigest() {
        assertTrue(Digest.looksLikeDigest("sha256:abc"));
        assertFalse(Digest.looksLikeDigest("latest"));
    }

    @Test
    void hashesBytesAndStreams() {
        // sha256 and sha512 of the empty string, from FIPS 180 test vectors.
        assertEquals(Digest.parse("sha256:" + HEX64), Digest.sha256(new byte[0]));
        assertEquals("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                + "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
                Digest.of("sha512", new byte[0]).hex());
        byte[] abc = "abc".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        java.security.MessageDigest running = Digest.newMessageDigest("sha256");
        running.update(abc, 0, 1);
        running.update(abc, 1, 2);
        assertEquals(Digest.sha256(abc), Digest.of("sha256", running));
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Digest.sha256(abc).hex());
        assertThrows(IllegalArgumentException.class, () -> Digest.of("md5", abc));
    }
}
