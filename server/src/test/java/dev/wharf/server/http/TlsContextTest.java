package dev.wharf.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.TestCa;
import io.netty.handler.ssl.SslProvider;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyPair;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Loading PEM pairs in every supported key form with both engines, the errors that name the file, and reloads. */
class TlsContextTest {
    enum Form { RSA_PKCS1, RSA_PKCS8, EC_SEC1, EC_PKCS8 }

    @ParameterizedTest
    @EnumSource(Form.class)
    void loadsEveryKeyFormWithBothProviders(Form form, @TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf test CA", tmp.resolve("ca"));
        boolean ec = form.name().startsWith("EC");
        TestCa.Issued issued = ec ? ca.server(TestCa.ecKeys(), "localhost", "localhost", "127.0.0.1")
                : ca.server("localhost", "127.0.0.1");
        Path key = issued.keyPem(); // PKCS#8
        if (form == Form.RSA_PKCS1 || form == Form.EC_SEC1) {
            key = TestCa.writeTraditional(tmp.resolve("traditional.key"), issued.key());
            String pem = Files.readString(key);
            assertTrue(pem.startsWith(ec ? "-----BEGIN EC PRIVATE KEY" : "-----BEGIN RSA PRIVATE KEY"), pem);
        } else {
            assertTrue(Files.readString(key).startsWith("-----BEGIN PRIVATE KEY"));
        }
        for (SslProvider provider : new SslProvider[] {SslProvider.JDK, SslProvider.OPENSSL}) {
            TlsContext tls = TlsContext.load(issued.certificatePem(), key, provider);
            assertEquals(issued.certificate(), tls.certificate(), form + " with " + provider);
            assertTrue(tls.current().isServer());
        }
    }

    @Test
    void aChainLoadsWithTheLeafFirst(@TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf test CA", tmp.resolve("ca"));
        TestCa.Issued issued = ca.server("localhost", "127.0.0.1");
        Path chain = tmp.resolve("chain.pem");
        Files.writeString(chain, Files.readString(issued.certificatePem()) + Files.readString(ca.certificatePem()));
        TlsContext tls = TlsContext.load(chain, issued.keyPem(), SslProvider.JDK);
        assertEquals(issued.certificate(), tls.certificate());
    }

    @Test
    void aBadPairNamesTheFile(@TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf test CA", tmp.resolve("ca"));
        TestCa.Issued one = ca.server("one.example");
        TestCa.Issued two = ca.server("two.example");
        IllegalArgumentException mismatch = assertThrows(IllegalArgumentException.class,
                () -> TlsContext.load(one.certificatePem(), two.keyPem(), SslProvider.JDK));
        assertTrue(mismatch.getMessage().contains(two.keyPem().toString())
                && mismatch.getMessage().contains("does not belong"), mismatch.getMessage());

        Path garbage = Files.writeString(tmp.resolve("garbage.key"), "not a key\n");
        IllegalArgumentException notKey = assertThrows(IllegalArgumentException.class,
                () -> TlsContext.load(one.certificatePem(), garbage, SslProvider.JDK));
        assertTrue(notKey.getMessage().contains(garbage.toString()), notKey.getMessage());

        IllegalArgumentException certAsKey = assertThrows(IllegalArgumentException.class,
                () -> TlsContext.load(one.keyPem(), one.keyPem(), SslProvider.JDK));
        assertTrue(certAsKey.getMessage().contains("tls.cert file " + one.keyPem()), certAsKey.getMessage());

        Path missing = tmp.resolve("missing.pem");
        IllegalArgumentException unreadable = assertThrows(IllegalArgumentException.class,
                () -> TlsContext.load(missing, one.keyPem(), SslProvider.JDK));
        assertTrue(unreadable.getMessage().contains(missing.toString()), unreadable.getMessage());
    }

    /** cert-manager's layout: tls.crt and tls.key link through ..data, a link swapped by rename to a new folder. */
    @Test
    void reloadsOnASymlinkSwapAndKeepsTheOldPairWhenTheNewOneIsBad(@TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf test CA", tmp.resolve("ca"));
        TestCa.Issued first = ca.server("first.example", "127.0.0.1");
        TestCa.Issued second = ca.server(TestCa.ecKeys(), "second.example", "127.0.0.1");
        Path secret = Files.createDirectories(tmp.resolve("secret"));
        publish(secret, "..v1", first.certificatePem(), first.keyPem());
        Files.createSymbolicLink(secret.resolve("tls.crt"), Path.of("..data/tls.crt"));
        Files.createSymbolicLink(secret.resolve("tls.key"), Path.of("..data/tls.key"));
        KeyPair unused = TestCa.ecKeys();

        try (TlsContext tls = TlsContext.load(secret.resolve("tls.crt"), secret.resolve("tls.key"), SslProvider.JDK)) {
            assertEquals(first.certificate(), tls.certificate());
            tls.reloadIfChanged();
            assertEquals(first.certificate(), tls.certificate(), "unchanged files keep the pair");

            publish(secret, "..v2", second.certificatePem(), second.keyPem());
            tls.reloadIfChanged();
            assertEquals(second.certificate(), tls.certificate(), "the swapped pair is in use");

            Path badKey = TestCa.writeTraditional(tmp.resolve("other.key"), unused.getPrivate());
            publish(secret, "..v3", first.certificatePem(), badKey);
            tls.reloadIfChanged();
            assertEquals(second.certificate(), tls.certificate(), "a mismatched pair is refused, the old one kept");
        }
    }

    /** Writes a versioned folder and points {@code ..data} at it with one rename, as the kubelet does. */
    private static void publish(Path secret, String version, Path cert, Path key) throws Exception {
        Path dir = Files.createDirectories(secret.resolve(version));
        Files.copy(cert, dir.resolve("tls.crt"));
        Files.writeString(dir.resolve("tls.key"), Files.readString(key, StandardCharsets.US_ASCII));
        Path tmpLink = secret.resolve("..data_tmp");
        Files.deleteIfExists(tmpLink);
        Files.createSymbolicLink(tmpLink, Path.of(version));
        Files.move(tmpLink, secret.resolve("..data"), StandardCopyOption.ATOMIC_MOVE);
    }
}
