package dev.wharf.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code cluster} section: its keys, their values, and the messages that name the key and the file. */
class ConfigLoaderClusterTest {
    @Test
    void readsRedisListenAdvertiseAndSecrets(@TempDir Path tmp) throws Exception {
        Path secret = Files.writeString(tmp.resolve("secret"), "0123456789abcdef-cluster\n");
        Path password = Files.writeString(tmp.resolve("redis-password"), "s3cret\n");
        Path ca = Files.writeString(tmp.resolve("ca.pem"), "x");
        WharfConfig c = ConfigLoader.parse("cluster:\n  redis:\n    address: redis.example:6380\n    passwordFile: "
                + password + "\n    tls: true\n    caFile: " + ca + "\n  listen: 0.0.0.0:5002\n"
                + "  advertise: http://10.0.0.5:5002\n  secretFile: " + secret + "\n", "t.yaml");
        ClusterConfig k = c.cluster();
        assertEquals("redis.example", k.redisHost());
        assertEquals(6380, k.redisPort());
        assertEquals("s3cret", k.redisPassword());
        assertTrue(k.redisTls());
        assertEquals(ca, k.redisCa());
        assertEquals(HostPort.parse("0.0.0.0:5002"), k.listen());
        assertEquals(URI.create("http://10.0.0.5:5002"), k.advertise());
        assertEquals("0123456789abcdef-cluster", k.secret());
        assertFalse(k.toString().contains("s3cret") || k.toString().contains("abcdef"), "secrets in " + k);
        assertEquals(k, c.withListen(HostPort.parse("127.0.0.1:1")).cluster(), "overrides keep cluster");
        assertNull(ConfigLoader.parse("listen: 127.0.0.1:5000\n", "t.yaml").cluster(), "no cluster: alone");
    }

    @Test
    void badValuesNameTheKeyAndTheFile(@TempDir Path tmp) throws Exception {
        Path secret = Files.writeString(tmp.resolve("secret"), "0123456789abcdef-cluster\n");
        Path shortSecret = Files.writeString(tmp.resolve("short"), "short\n");
        Path ca = Files.writeString(tmp.resolve("ca.pem"), "x");
        String tail = "  listen: 127.0.0.1:5002\n  advertise: http://127.0.0.1:5002\n  secretFile: " + secret + "\n";
        String[][] cases = {
            {"cluster:\n  redis:\n    address: 127.0.0.1:6379\n  listen: 127.0.0.1:5002\n"
                    + "  advertise: http://127.0.0.1:5002\n", "cluster.secretFile"},
            {"cluster:\n  redis:\n    passwordFile: x\n" + tail, "cluster.redis.address"},
            {"cluster:\n  redis:\n    address: 127.0.0.1\n" + tail, "cluster.redis.address"},
            {"cluster:\n  redis:\n    address: 127.0.0.1:6379\n    password: x\n" + tail, "cluster.redis.password"},
            {"cluster:\n  redis:\n    address: 127.0.0.1:6379\n    caFile: " + ca + "\n" + tail,
                    "cluster.redis.caFile"},
            {"cluster:\n  redis:\n    address: 127.0.0.1:6379\n    tls: maybe\n" + tail, "cluster.redis.tls"},
            {"cluster:\n  redis:\n    address: 127.0.0.1:6379\n  listen: 127.0.0.1:5002\n"
                    + "  advertise: 10.0.0.5:5002\n  secretFile: " + secret + "\n", "cluster.advertise"},
            {"cluster:\n  redis:\n    address: 127.0.0.1:6379\n  listen: 127.0.0.1:5002\n"
                    + "  advertise: http://127.0.0.1:5002\n  secretFile: " + shortSecret + "\n", "cluster.secretFile"},
            {"cluster:\n  redis:\n    address: 127.0.0.1:6379\n" + tail + "  peers: 3\n", "cluster.peers"},
            {"cluster:\n  redis:\n    address: 127.0.0.1:6379\n  listen: 127.0.0.1:5002\n"
                    + "  advertise: http://${WHARF_TEST_UNSET_POD_IP}:5002\n  secretFile: " + secret + "\n",
                    "cluster.advertise"},
        };
        for (String[] c : cases) {
            ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(c[0], "t.yaml"), c[0]);
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().contains("t.yaml"), e.getMessage());
        }
    }
}
