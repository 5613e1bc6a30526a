package dev.wharf.server.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.Exec;
import dev.wharf.testing.WharfCli;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code wharf tls init}, run as a user runs it: four files with the right modes, a serving certificate that a PKIX
 * validator accepts for TLS servers under the CA, one SAN per host (DNS or IP, v6 too), keys that match, and no
 * overwrite without {@code --force}.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TlsInitCliTest {
    private static final Duration CLI_TIMEOUT = Duration.ofSeconds(60);
    private static final int SAN_DNS = 2;
    private static final int SAN_IP = 7;

    @Test
    void writesACaAndAServingCertificateThatValidates(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("tls");
        Exec.Result r = WharfCli.run(CLI_TIMEOUT, "tls", "init", "--dir", dir.toString(), "--host", "wharf.example.com",
                "--host", "127.0.0.1", "--host", "[::1]", "--host", "localhost");
        assertEquals(0, r.exitCode(), r.describe());
        assertTrue(r.output().contains("tls:\n  cert: " + dir.resolve("tls.crt") + "\n  key: " + dir.resolve("tls.key")),
                r.output());
        assertTrue(r.output().contains("ca = \"" + dir.resolve("ca.crt") + "\""), r.output());

        assertEquals("rw-------", mode(dir.resolve("ca.key")));
        assertEquals("rw-------", mode(dir.resolve("tls.key")));
        assertEquals("rw-r--r--", mode(dir.resolve("ca.crt")));
        assertEquals("rw-r--r--", mode(dir.resolve("tls.crt")));

        X509Certificate ca = certificate(dir.resolve("ca.crt"));
        X509Certificate leaf = certificate(dir.resolve("tls.crt"));
        PKIXParameters pkix = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
        pkix.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX").validate(
                CertificateFactory.getInstance("X.509").generateCertPath(List.of(leaf)), pkix);

        assertTrue(ca.getBasicConstraints() >= 0, "the CA is a CA");
        assertEquals(-1, leaf.getBasicConstraints(), "the serving certificate is not");
        assertEquals(List.of("1.3.6.1.5.5.7.3.1"), leaf.getExtendedKeyUsage(), "serverAuth only");
        Set<List<Object>> sans = new HashSet<>();
        leaf.getSubjectAlternativeNames().forEach(san -> sans.add(List.of(san.get(0), san.get(1))));
        assertEquals(Set.of(List.of(SAN_DNS, "wharf.example.com"), List.of(SAN_IP, "127.0.0.1"),
                List.of(SAN_IP, "0:0:0:0:0:0:0:1"), List.of(SAN_DNS, "localhost")), sans);
        assertEquals("EC", leaf.getPublicKey().getAlgorithm());
        long leafDays = Duration.between(Instant.now(), leaf.getNotAfter().toInstant()).toDays();
        long caDays = Duration.between(Instant.now(), ca.getNotAfter().toInstant()).toDays();
        assertTrue(leafDays >= 360 && leafDays <= 398, "about a year: " + leafDays);
        assertTrue(caDays >= 3640, "ten years: " + caDays);

        assertKeyMatches(dir.resolve("tls.key"), leaf);
        assertKeyMatches(dir.resolve("ca.key"), ca);
    }

    @Test
    void keepsExistingFilesUnlessForced(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("tls");
        assertEquals(0, WharfCli.run(CLI_TIMEOUT, "tls", "init", "--dir", dir.toString(), "--host", "a.example")
                .exitCode());
        byte[] caBefore = Files.readAllBytes(dir.resolve("ca.crt"));
        byte[] keyBefore = Files.readAllBytes(dir.resolve("tls.key"));

        Exec.Result again = WharfCli.run(CLI_TIMEOUT, "tls", "init", "--dir", dir.toString(), "--host", "b.example");
        assertEquals(2, again.exitCode(), again.describe());
        assertTrue(again.output().contains(dir.resolve("ca.crt") + " exists"), again.output());
        assertArrayEquals(caBefore, Files.readAllBytes(dir.resolve("ca.crt")));
        assertArrayEquals(keyBefore, Files.readAllBytes(dir.resolve("tls.key")));

        Files.delete(dir.resolve("ca.crt"));
        Exec.Result oneLeft = WharfCli.run(CLI_TIMEOUT, "tls", "init", "--dir", dir.toString(), "--host", "b.example");
        assertEquals(2, oneLeft.exitCode(), "any one existing file stops it: " + oneLeft.describe());
        assertTrue(oneLeft.output().contains(dir.resolve("ca.key") + " exists"), oneLeft.output());

        Exec.Result forced = WharfCli.run(CLI_TIMEOUT, "tls", "init", "--dir", dir.toString(), "--host", "b.example",
                "--force");
        assertEquals(0, forced.exitCode(), forced.describe());
        assertNotEquals(new String(keyBefore), Files.readString(dir.resolve("tls.key")));
        assertEquals("rw-------", mode(dir.resolve("tls.key")));
        X509Certificate leaf = certificate(dir.resolve("tls.crt"));
        assertEquals(List.of(List.of(SAN_DNS, "b.example")), List.copyOf(leaf.getSubjectAlternativeNames()));
        leaf.verify(certificate(dir.resolve("ca.crt")).getPublicKey());
        try (var files = Files.list(dir)) {
            assertEquals(4, files.count(), "no temp files left");
        }
    }

    @Test
    void hostsAreDnsNamesOrIpAddresses() throws Exception {
        assertEquals(new ServingCertificates.Host("10.1.2.3", true), ServingCertificates.parseHost("10.1.2.3"));
        assertEquals(new ServingCertificates.Host("0:0:0:0:0:0:0:1", true), ServingCertificates.parseHost("::1"));
        assertEquals(new ServingCertificates.Host("fd00:0:0:0:0:0:0:5", true), ServingCertificates.parseHost("[fd00::5]"));
        assertEquals(new ServingCertificates.Host("wharf.example.com", false),
                ServingCertificates.parseHost("Wharf.Example.com"));
        assertEquals(new ServingCertificates.Host("*.example.com", false), ServingCertificates.parseHost("*.example.com"));
        assertEquals(new ServingCertificates.Host("1.2.3.4.nip.io", false), ServingCertificates.parseHost("1.2.3.4.nip.io"));
        for (String bad : List.of("300.1.1.1", "bad_host", "a..b", "-a.example", "fd00::zz", "::1::2", "*.com",
                "host/path", "")) {
            assertThrows(UsageError.class, () -> ServingCertificates.parseHost(bad), bad);
        }
    }

    private static void assertKeyMatches(Path keyFile, X509Certificate cert) throws Exception {
        String pem = Files.readString(keyFile);
        assertTrue(pem.startsWith("-----BEGIN PRIVATE KEY-----"), "PKCS#8: " + pem);
        byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
        PrivateKey key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
        Signature sign = Signature.getInstance("SHA256withECDSA");
        sign.initSign(key);
        sign.update("wharf".getBytes());
        byte[] signature = sign.sign();
        Signature check = Signature.getInstance("SHA256withECDSA");
        check.initVerify(cert.getPublicKey());
        check.update("wharf".getBytes());
        assertTrue(check.verify(signature), keyFile + " is the key of " + cert.getSubjectX500Principal());
    }

    private static X509Certificate certificate(Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    private static String mode(Path file) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(file));
    }
}
