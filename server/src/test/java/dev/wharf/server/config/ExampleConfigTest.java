package dev.wharf.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/**
 * {@code examples/wharf.yaml} loads, says what it claims, and shows every key the loader accepts: a key added to
 * the loader without an entry in the example fails {@link #everyKeyTheLoaderAcceptsIsInTheExample}.
 *
 * <p>The loader keeps its key sets in private constants ({@code ConfigLoader.TOP_KEYS}, the section readers'
 * {@code *_KEYS}), so the test asks the loader itself: it feeds each section an unknown key and reads the
 * "known here: ..." list from the error. Top-level keys must be set in the example; a key within a section may
 * instead be a commented-out line ({@code # caFile: ...}), for keys whose files must exist at start-up or that
 * exclude another key.
 *
 * <p>Surefire runs in {@code server/}, so the example is {@code ../examples/wharf.yaml}. It is parsed through
 * {@link ConfigLoader#parse(String, String, Function)} rather than {@code load(Path)} only to give its
 * {@code ${VAR}} references values without touching the environment; it names no relative file, so the two read
 * it alike.
 */
class ExampleConfigTest {
    private static final Path EXAMPLE = Path.of("..", "examples", "wharf.yaml");
    /** The variables the example's header tells the reader to set. */
    private static final Set<String> DOCUMENTED_VARIABLES = Set.of("DOCKERHUB_TOKEN", "WHARF_ADMIN_TOKEN");
    private static final Pattern ENV_REF = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}");
    private static final Pattern KNOWN_HERE = Pattern.compile("known here: ([^)]*)\\)");

    private static String env(String name) {
        return "example-value-of-" + name;
    }

    private static String exampleText() throws IOException {
        if (!Files.isRegularFile(EXAMPLE)) {
            fail("the example config is missing: expected " + EXAMPLE.toAbsolutePath().normalize()
                    + " (examples/wharf.yaml at the repository root; this test runs with server/ as its working"
                    + " directory)");
        }
        return Files.readString(EXAMPLE);
    }

    private static WharfConfig loadExample() throws IOException {
        return ConfigLoader.parse(exampleText(), EXAMPLE.toString(), ExampleConfigTest::env);
    }

    @Test
    void exampleLoadsWithTheValuesItDescribes() throws IOException {
        WharfConfig c = loadExample();

        assertEquals(new HostPort("0.0.0.0", 5000), c.listen());
        assertEquals(Path.of("/var/lib/wharf"), c.storagePath());
        assertEquals("docker.io", c.defaultProject());
        assertEquals(List.of("docker.io", "ghcr.io", "quay.io", "registry.k8s.io", "harbor", "ecr"),
                c.projects().stream().map(ProjectConfig::name).toList());

        ProjectConfig hub = project(c, "docker.io");
        assertEquals(Duration.ofMinutes(5), hub.tagTtl());
        assertEquals(List.of("index.docker.io"), hub.aliases());
        assertEquals("mycompanybot", hub.username());
        assertEquals(env("DOCKERHUB_TOKEN"), hub.password());
        assertEquals(Duration.ofHours(1), project(c, "quay.io").tagTtl());

        ProjectConfig harbor = project(c, "harbor");
        assertEquals(List.of(URI.create("https://harbor-a.corp.example/v2/proxy-cache"),
                URI.create("https://harbor-b.corp.example/v2/proxy-cache")), harbor.upstreams());
        assertEquals(Duration.ofMinutes(2), harbor.tagTtl());
        assertFalse(harbor.insecureSkipVerify(), "insecureSkipVerify must stay commented out in the example");
        assertEquals(null, harbor.caFile());
        assertEquals("eu-west-1", project(c, "ecr").ecr().region());
        assertTrue(hub.isPrivate());
        assertEquals(List.of("ci", "alice"), hub.pull());
        assertTrue(project(c, "ecr").isPrivate(), "ECR credentials make a project private by default");
        assertFalse(project(c, "quay.io").isPrivate());
        assertEquals(Path.of("/etc/wharf/htpasswd"), c.auth().htpasswd());
        assertEquals(List.of("robot$ci", "robot$ci-nightly"), c.auth().groups().get("ci"));
        assertEquals(List.of("alice"), c.auth().admins());
        assertEquals(Duration.ofMinutes(5), c.auth().tokenTtl());

        OperationsConfig ops = c.operations();
        assertEquals(100L << 30, ops.maxSize());
        assertEquals(0.95, ops.highWatermark());
        assertEquals(0.85, ops.lowWatermark());
        assertEquals(Duration.ofDays(14), ops.unusedFor());
        assertEquals(new HostPort("127.0.0.1", 9090), ops.adminListen());
        assertEquals(env("WHARF_ADMIN_TOKEN"), ops.adminToken());
        assertTrue(ops.accessLog());
        assertEquals("info", ops.accessLogLevel());
        assertEquals(null, ops.egressProxy(), "egress.proxy stays commented out: the example must not send "
                + "everything to a proxy that does not exist");
        assertEquals(List.of(".corp.example", "10.0.0.0/8"), ops.noProxy());

        assertEquals(2, c.rewrite().rules().size());
        assertEquals("wharf.example.com/docker.io", c.rewrite().rules().get(0).replace());
        assertTrue(c.rewrite().rules().get(1).checkUpstream());
    }

    /** The header lists the variables a reader must set; an unset one stops start-up. */
    @Test
    void theExampleReadsOnlyTheVariablesItsHeaderNames() throws IOException {
        Set<String> used = new TreeSet<>();
        for (String line : exampleText().split("\n")) {
            String code = line.strip();
            if (code.startsWith("#")) {
                continue;
            }
            Matcher m = ENV_REF.matcher(code);
            while (m.find()) {
                used.add(m.group(1));
            }
        }
        assertEquals(new TreeSet<>(DOCUMENTED_VARIABLES), used);
        for (String name : DOCUMENTED_VARIABLES) {
            assertTrue(exampleText().contains("#   " + name + " "), "the header should explain " + name);
        }
        // Without them, the loader refuses the file: the header's warning is true.
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(exampleText(), EXAMPLE.toString(), name -> null));
        assertTrue(e.getMessage().contains("which is not set"), e.getMessage());
    }

    @Test
    void everyKeyTheLoaderAcceptsIsInTheExample() throws IOException {
        String text = exampleText();
        JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(text);

        List<String> top = knownKeys("zzz-probe: 1\n");
        // Sanity check of the probe itself: the top-level sections docs/configuration.md documents today.
        assertTrue(top.containsAll(List.of("listen", "storage", "defaultProject", "projects", "retention", "admin",
                "accessLog", "egress", "rewrite")), "probe read top-level keys " + top);
        List<String> missingTop = new ArrayList<>();
        for (String key : top) {
            if (!root.has(key)) {
                missingTop.add(key);
            }
        }
        assertTrue(missingTop.isEmpty(), "examples/wharf.yaml does not set the top-level keys " + missingTop
                + ": add each with a comment saying what it does and its default");

        List<String> missing = new ArrayList<>();
        checkSection(missing, text, "storage", knownKeys("storage:\n  zzz-probe: 1\n"), List.of(root.path("storage")));
        checkSection(missing, text, "storage.s3", knownKeys("storage:\n  s3:\n    zzz-probe: 1\n"),
                List.of(root.path("storage").path("s3")));
        checkSection(missing, text, "retention", knownKeys("retention:\n  zzz-probe: 1\n"),
                List.of(root.path("retention")));
        checkSection(missing, text, "admin", knownKeys("admin:\n  zzz-probe: 1\n"), List.of(root.path("admin")));
        checkSection(missing, text, "accessLog", knownKeys("accessLog:\n  zzz-probe: 1\n"),
                List.of(root.path("accessLog")));
        checkSection(missing, text, "egress", knownKeys("egress:\n  zzz-probe: 1\n"), List.of(root.path("egress")));
        List<JsonNode> projects = elements(root.path("projects"));
        checkSection(missing, text, "projects[]", knownKeys("""
                projects:
                  - name: probe
                    upstream: https://registry.example
                    zzz-probe: 1
                """), projects);
        checkSection(missing, text, "projects[].ecr", knownKeys("""
                projects:
                  - name: probe
                    upstream: https://registry.example
                    ecr:
                      zzz-probe: 1
                """), projects.stream().map(p -> p.path("ecr")).toList());
        checkSection(missing, text, "rewrite", knownKeys("rewrite:\n  zzz-probe: 1\n"), List.of(root.path("rewrite")));
        checkSection(missing, text, "tls", knownKeys("tls:\n  zzz-probe: 1\n"), List.of(root.path("tls")));
        checkSection(missing, text, "auth", knownKeys("auth:\n  zzz-probe: 1\n"), List.of(root.path("auth")));
        checkSection(missing, text, "cluster", knownKeys("cluster:\n  zzz-probe: 1\n"), List.of(root.path("cluster")));
        checkSection(missing, text, "cluster.redis", knownKeys("cluster:\n  redis:\n    zzz-probe: 1\n"),
                List.of(root.path("cluster").path("redis")));
        checkSection(missing, text, "auth.failedLogins", knownKeys("auth:\n  failedLogins:\n    zzz-probe: 1\n"),
                List.of(root.path("auth").path("failedLogins")));
        checkSection(missing, text, "rewrite.rules[]", knownKeys("rewrite:\n  rules:\n    - zzz-probe: 1\n"),
                elements(root.path("rewrite").path("rules")));
        assertTrue(missing.isEmpty(), "examples/wharf.yaml shows neither a value nor a commented-out line for "
                + missing + ": add each with a comment saying what it does and its default");
    }

    /** The keys the loader accepts where {@code yaml} puts {@code zzz-probe}, read from its error message. */
    private static List<String> knownKeys(String yaml) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "probe", n -> null),
                "the loader accepted an unknown key in:\n" + yaml);
        Matcher m = KNOWN_HERE.matcher(e.getMessage());
        if (!e.getMessage().contains("zzz-probe") || !m.find()) {
            fail("the loader's unknown-key error no longer lists the known keys as \"known here: a, b)\", which this"
                    + " test reads; got: " + e.getMessage());
        }
        return Arrays.stream(m.group(1).split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    /**
     * Adds to {@code missing} each key of {@code known} that none of {@code nodes} sets and that no commented-out
     * line of {@code text} shows ({@code # key: ...}).
     */
    private static void checkSection(List<String> missing, String text, String section, List<String> known,
                                     List<JsonNode> nodes) {
        assertFalse(known.isEmpty(), "probe found no keys for " + section);
        for (String key : known) {
            boolean set = nodes.stream().anyMatch(n -> n.isObject() && n.has(key));
            boolean commented = Pattern.compile("(?m)^\\s*#\\s*(?:-\\s+)?" + Pattern.quote(key) + ":").matcher(text)
                    .find();
            if (!set && !commented) {
                missing.add(section + "." + key);
            }
        }
    }

    private static List<JsonNode> elements(JsonNode list) {
        return StreamSupport.stream(list.spliterator(), false).toList();
    }

    private static ProjectConfig project(WharfConfig c, String name) {
        return c.projects().stream().filter(p -> p.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no project " + name + " in the example"));
    }
}
