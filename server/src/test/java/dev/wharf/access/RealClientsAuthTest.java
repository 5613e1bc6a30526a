package dev.wharf.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.Containerd;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.WharfYaml;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real clients against wharf with client auth over TLS (each verifies wharf's certificate against a test CA):
 * {@code skopeo login}, {@code podman login}, {@code crane auth login} and {@code helm registry login} log in and
 * then pull a private project; without a login the pull gets 401; a robot without rights gets 403; containerd pulls
 * with credentials from hosts.toml (an Authorization header) and with {@code ctr --user} (the token flow). The
 * password and every token never appear in wharf's logs or the clients' error output.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.MethodName.class)
@ExtendWith(RealRegistry.class)
class RealClientsAuthTest {
    private static final Duration TOOL = Duration.ofMinutes(2);
    private static final String ROBOT = "robot$ci";
    private static final String PW = "pw-" + Long.toHexString(new SecureRandom().nextLong());
    private static final String NONE_PW = "pw-none-" + Long.toHexString(new SecureRandom().nextLong());

    @TempDir
    static Path tmp;
    private static Image image;
    private static InProcessWharf wharf;
    private static TestCa ca;
    private static Path certDir;
    private static Path audit;
    private static Path access;
    private static final List<String> OUTPUTS = new ArrayList<>();

    static String entry(String user, String password) {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        return user + ":" + OpenBSDBCrypt.generate("2y", password.toCharArray(), salt, 5) + "\n";
    }

    @BeforeAll
    static void start(DistributionRegistry upstream, ImageSeeder seeder) throws Exception {
        image = seeder.pushOciImage(upstream.url(), "team/app", "v1", 2 << 20, 2001);
        pushChart(upstream);
        Path htpasswd = tmp.resolve("htpasswd");
        Files.writeString(htpasswd, entry(ROBOT, PW) + entry("robot$none", NONE_PW));
        ca = TestCa.create("wharf auth CA", tmp.resolve("ca"));
        TestCa.Issued server = ca.server("localhost", "127.0.0.1");
        certDir = Files.createDirectories(tmp.resolve("certs.d"));
        Files.copy(ca.certificatePem(), certDir.resolve("ca.crt"));
        audit = tmp.resolve("audit.log");
        access = tmp.resolve("access.log");
        wharf = InProcessWharf.start(tmp.resolve("storage"), WharfYaml.config().adminListen("127.0.0.1:0")
                .accessLog(access).raw("tls:\n  cert: " + server.certificatePem() + "\n  key: " + server.keyPem()
                        + "\nauth:\n  htpasswd: " + htpasswd + "\n  groups: {ci: ['robot$ci']}\n  auditLog: " + audit
                        + "\nprojects:\n  - {name: priv, upstream: '" + upstream.url()
                        + "', visibility: private, pull: [ci]}\n"));
    }

    /** A minimal chart, packaged and pushed to the upstream with helm itself. */
    private static void pushChart(DistributionRegistry upstream) throws Exception {
        Path chart = Files.createDirectories(tmp.resolve("chart/mychart"));
        Files.writeString(chart.resolve("Chart.yaml"), "apiVersion: v2\nname: mychart\nversion: 0.1.0\n");
        Files.createDirectories(chart.resolve("templates"));
        Files.writeString(chart.resolve("templates/cm.yaml"),
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
        Exec.run(TOOL, "helm", "package", chart.toString(), "-d", tmp.resolve("chart").toString()).orFail();
        Exec.run(TOOL, "helm", "push", tmp.resolve("chart/mychart-0.1.0.tgz").toString(),
                "oci://" + upstream.hostPort() + "/charts", "--plain-http",
                "--registry-config", tmp.resolve("helm-upstream.json").toString()).orFail();
    }

    @AfterAll
    static void stop() throws Exception {
        if (wharf != null) {
            wharf.close();
        }
    }

    private static String host() {
        return wharf.hostPort();
    }

    private static Exec.Result run(Map<String, String> env, String... command) {
        Exec.Result r = Exec.run(TOOL, env, null, List.of(command));
        OUTPUTS.add(r.output());
        return r;
    }

    private static void assertUnauthorized(Exec.Result r) {
        assertFalse(r.ok(), r.describe());
        String out = r.output().toLowerCase(Locale.ROOT);
        assertTrue(out.contains("401") || out.contains("unauthorized") || out.contains("authentication required"),
                r.describe());
    }

    @Test
    void skopeoLogsInAndPullsAndWithoutLoginGets401() throws Exception {
        Path authfile = tmp.resolve("skopeo-auth.json");
        Path layout = tmp.resolve("skopeo-layout");
        String ref = "docker://" + host() + "/priv/" + image.reference();
        assertUnauthorized(run(Map.of(), "skopeo", "copy", "--authfile", authfile.toString(), "--src-cert-dir",
                certDir.toString(), ref, "oci:" + layout + ":x"));
        run(Map.of(), "skopeo", "login", "--authfile", authfile.toString(), "--cert-dir", certDir.toString(),
                "-u", ROBOT, "-p", PW, host()).orFail();
        run(Map.of(), "skopeo", "copy", "--authfile", authfile.toString(), "--src-cert-dir", certDir.toString(),
                "--preserve-digests", ref, "oci:" + layout + ":x").orFail();
        assertTrue(Files.readString(layout.resolve("index.json")).contains(image.manifestDigest()));
        // A robot without rights on the project logs in (its password is right) and is denied the pull.
        Path noneAuth = tmp.resolve("skopeo-none.json");
        run(Map.of(), "skopeo", "login", "--authfile", noneAuth.toString(), "--cert-dir", certDir.toString(),
                "-u", "robot$none", "-p", NONE_PW, host()).orFail();
        Exec.Result denied = run(Map.of(), "skopeo", "inspect", "--authfile", noneAuth.toString(), "--cert-dir",
                certDir.toString(), ref);
        assertFalse(denied.ok(), denied.describe());
        assertTrue(denied.output().toLowerCase(Locale.ROOT).contains("denied"), denied.describe());
        // And a wrong password does not log in.
        assertFalse(run(Map.of(), "skopeo", "login", "--authfile", tmp.resolve("x.json").toString(), "--cert-dir",
                certDir.toString(), "-u", ROBOT, "-p", "wrong-" + PW, host()).ok());
    }

    @Test
    void podmanLogsInAndPulls() throws Exception {
        Path conf = tmp.resolve("containers.conf");
        Files.writeString(conf, "[containers]\ndefault_ulimits = []\n");
        Map<String, String> env = Map.of("CONTAINERS_CONF", conf.toString());
        Path authfile = tmp.resolve("podman-auth.json");
        Files.writeString(authfile, "{}\n"); // podman wants the file to exist; empty: no login yet
        List<String> storage = List.of("--root", tmp.resolve("podman-root").toString(), "--runroot",
                tmp.resolve("podman-run").toString(), "--storage-driver", "vfs");
        String ref = host() + "/priv/" + image.reference();
        List<String> pull = new ArrayList<>(List.of("podman"));
        pull.addAll(storage);
        pull.addAll(List.of("pull", "--authfile", authfile.toString(), "--cert-dir", certDir.toString(), ref));
        assertUnauthorized(run(env, pull.toArray(String[]::new)));
        List<String> login = new ArrayList<>(List.of("podman"));
        login.addAll(storage);
        login.addAll(List.of("login", "--authfile", authfile.toString(), "--cert-dir", certDir.toString(), "-u",
                ROBOT, "-p", PW, host()));
        run(env, login.toArray(String[]::new)).orFail();
        run(env, pull.toArray(String[]::new)).orFail();
    }

    @Test
    void craneAuthLoginThenPull() throws Exception {
        Path dockerConfig = Files.createDirectories(tmp.resolve("crane-config"));
        Map<String, String> env = Map.of("SSL_CERT_FILE", ca.certificatePem().toString(), "DOCKER_CONFIG",
                dockerConfig.toString());
        String ref = host() + "/priv/" + image.reference();
        assertUnauthorized(run(env, "crane", "digest", ref));
        run(env, "crane", "auth", "login", host(), "-u", ROBOT, "-p", PW).orFail();
        Exec.Result digest = run(env, "crane", "digest", ref).orFail();
        assertEquals(image.manifestDigest(), digest.output().trim());
        run(env, "crane", "pull", "--format", "oci", ref, tmp.resolve("crane-layout").toString()).orFail();
    }

    @Test
    void helmRegistryLoginThenPull() throws Exception {
        Path config = tmp.resolve("helm-registry.json");
        Files.createDirectories(tmp.resolve("helm-out"));
        String chart = "oci://" + host() + "/priv/charts/mychart";
        List<String> common = List.of("--registry-config", config.toString(), "--ca-file",
                ca.certificatePem().toString());
        List<String> pull = new ArrayList<>(List.of("helm", "pull", chart, "--version", "0.1.0", "-d",
                tmp.resolve("helm-out").toString()));
        pull.addAll(common);
        assertUnauthorized(run(Map.of(), pull.toArray(String[]::new)));
        List<String> login = new ArrayList<>(List.of("helm", "registry", "login", host(), "-u", ROBOT, "-p", PW));
        login.addAll(common);
        run(Map.of(), login.toArray(String[]::new)).orFail();
        run(Map.of(), pull.toArray(String[]::new)).orFail();
        assertTrue(Files.isRegularFile(tmp.resolve("helm-out/mychart-0.1.0.tgz")));
    }

    @Test
    void containerdPullsWithHostsTomlCredentialsAndWithCtrUser() throws Exception {
        String basic = Base64.getEncoder().encodeToString((ROBOT + ":" + PW).getBytes(StandardCharsets.UTF_8));
        try (Containerd containerd = Containerd.builder().pullTimeout(Duration.ofSeconds(90)).start()) {
            Path hosts = tmp.resolve("hosts");
            Containerd.writeHostsToml(hosts, host(), "server = \"https://" + host() + "/v2/priv\"\n\n"
                    + "[host.\"https://" + host() + "/v2/priv\"]\n"
                    + "  capabilities = [\"pull\", \"resolve\"]\n"
                    + "  override_path = true\n"
                    + "  ca = \"" + ca.certificatePem() + "\"\n"
                    + "  [host.\"https://" + host() + "/v2/priv\".header]\n"
                    + "    Authorization = \"Basic " + basic + "\"\n");
            Exec.Result pulled = containerd.pull(host() + "/" + image.reference(), hosts);
            OUTPUTS.add(pulled.output());
            assertTrue(pulled.ok(), pulled.describe());
            assertTrue(containerd.contentDigests().containsAll(image.blobDigests()));

            Path plain = tmp.resolve("hosts-plain");
            Containerd.writeHostsToml(plain, host(), "server = \"https://" + host() + "\"\n\n"
                    + "[host.\"https://" + host() + "\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
                    + "  ca = \"" + ca.certificatePem() + "\"\n");
            Exec.Result refused = containerd.pull(host() + "/priv/" + image.reference(), plain);
            OUTPUTS.add(refused.output());
            assertFalse(refused.ok(), "no credentials: " + refused.describe());
            containerd.removeImage(host() + "/" + image.reference());
            Exec.Result user = containerd.pull(host() + "/priv/" + image.reference(), plain, "--user",
                    ROBOT + ":" + PW);
            OUTPUTS.add(user.output().replace(PW, "")); // ctr echoes nothing, but its command line held it
            assertTrue(user.ok(), user.describe().replace(PW, "***"));
        }
    }

    @Test
    void zzNoPasswordInAnyLogOrClientOutput() throws Exception {
        Thread.sleep(500);
        String logs = Files.readString(access) + (Files.exists(audit) ? Files.readString(audit) : "");
        assertTrue(logs.contains("/v2/priv/"), "the access log was written");
        String all = logs + String.join("\n", OUTPUTS);
        assertFalse(all.contains(PW), "the robot's password appears in a log or a client's output");
        assertFalse(all.contains(NONE_PW));
        assertFalse(all.contains(Base64.getEncoder().encodeToString((ROBOT + ":" + PW)
                .getBytes(StandardCharsets.UTF_8))));
    }
}
