package dev.wharf.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code tls} section: its keys, their values, and the messages that name the key and the file. */
class ConfigLoaderTlsTest {
    @Test
    void readsCertKeyAndProvider(@TempDir Path tmp) throws Exception {
        Path cert = Files.writeString(tmp.resolve("tls.crt"), "x");
        Path key = Files.writeString(tmp.resolve("tls.key"), "x");
        WharfConfig c = ConfigLoader.parse("tls:\n  cert: " + cert + "\n  key: " + key + "\n", "t.yaml");
        assertEquals(new TlsConfig(cert, key, null), c.tls());
        WharfConfig jdk = ConfigLoader.parse("tls:\n  cert: " + cert + "\n  key: " + key + "\n  provider: jdk\n",
                "t.yaml");
        assertEquals("jdk", jdk.tls().provider());
        assertNull(ConfigLoader.parse("listen: 127.0.0.1:5000\n", "t.yaml").tls(), "no tls: plain HTTP");
        assertEquals(c.tls(), c.withListen(HostPort.parse("127.0.0.1:1")).tls(), "overrides keep tls");
    }

    @Test
    void badValuesNameTheKeyAndTheFile(@TempDir Path tmp) throws Exception {
        Path cert = Files.writeString(tmp.resolve("tls.crt"), "x");
        Path key = Files.writeString(tmp.resolve("tls.key"), "x");
        Path missing = tmp.resolve("missing.key");
        String[][] cases = {
            {"tls:\n  cert: " + cert + "\n", "tls.key"},
            {"tls:\n  cert: " + cert + "\n  key: " + missing + "\n", missing.toString()},
            {"tls:\n  cert: " + cert + "\n  key: " + key + "\n  ca: " + cert + "\n", "tls.ca"},
            {"tls:\n  cert: " + cert + "\n  key: " + key + "\n  provider: boring\n", "tls.provider"},
            {"tls: yes\n", "tls"},
        };
        for (String[] c : cases) {
            ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(c[0], "t.yaml"), c[0]);
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().contains("t.yaml"), e.getMessage());
        }
    }
}
