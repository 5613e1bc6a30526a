package dev.wharf.server.upstreamauth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.ConnectTap;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.Nginx;
import dev.wharf.testing.Ports;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.TokenServer;
import dev.wharf.testing.Tools;
import dev.wharf.testing.WharfProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Docker Hub, rebuilt on loopback under its real names, and wharf configured exactly as for the real one
 * ({@code upstream: https://registry-1.docker.io}, a username and a personal access token):
 * <ul>
 *   <li>registry-1.docker.io: nginx (TLS) in front of a real {@code docker-registry} with {@code auth: token}, adding
 *       Docker Hub's {@code RateLimit-*} headers, or answering 429 while a flag file exists;</li>
 *   <li>auth.docker.io: a {@link TokenServer} over TLS signing the registry's JWTs;</li>
 *   <li>production.cloudflare.docker.com: nginx (TLS, on 127.0.0.2) serving the registry's blob files, which the
 *       registry redirects every blob request to (its {@code redirect} storage middleware, as Docker Hub does), and
 *       rejecting, as S3 does, any request that carries an {@code Authorization} header.</li>
 * </ul>
 * The names resolve only inside a {@link TcpRelay} with a {@link ConnectTap} that wharf reaches through {@code HTTPS_PROXY} (so the pull
 * proves egress through a CONNECT proxy, for the token requests too), and the certificates come from a test CA the
 * wharf JVM trusts as its only trust store. wharf runs as its own process, with its log.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DockerHubTest {
    private static final String USER = "wharfbot";
    private static final String PAT = "dckr_pat_Q2x3-test-4e1f";
    /**
     * Long enough that skopeo's requests for one tag all fall inside it on a loaded machine (the warm pull expects
     * exactly one HEAD); the waits past it are sleeps, which can only overshoot.
     */
    private static final Duration TAG_TTL = Duration.ofSeconds(5);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Path dir;
    private TokenServer auth;
    private DistributionRegistry registry;
    private Nginx nginx;
    private TcpRelay proxy;
    private WharfProcess wharf;
    private Path rateLimitedFlag;
    private long startedNanos;
    private ImageSeeder.Image alpine;
    private ImageSeeder.Image app;
    private ImageSeeder.Image cached;

    @BeforeAll
    void start() throws Exception {
        Tools.require("skopeo");
        dir = Files.createTempDirectory("wharf-dockerhub");
        TestCa ca = TestCa.create("wharf Docker Hub test CA", dir.resolve("ca"));
        TestCa.Issued registryCert = ca.server("registry-1.docker.io");
        TestCa.Issued authCert = ca.server("auth.docker.io");
        TestCa.Issued cdnCert = ca.server("production.cloudflare.docker.com");

        auth = TokenServer.builder(ca.signer("auth.docker.io signer"))
                .tls(authCert).issuer("auth.docker.io").service("registry.docker.io")
                .user(USER, PAT).policy(TokenServer.Policy.ANONYMOUS_PULL)
                .start();
        registry = DistributionRegistry.builder()
                .extraYaml(auth.registryAuthYaml(URI.create("https://auth.docker.io/token"), ca.certificatePem())
                        + "middleware:\n  storage:\n    - name: redirect\n      options:\n"
                        + "        baseurl: https://production.cloudflare.docker.com/\n")
                .start();

        try (ImageSeeder seeder = ImageSeeder.withAuthorization("Bearer " + auth.mint("seeder", Map.of(
                "library/alpine", List.of("pull", "push"), "someuser/app", List.of("pull", "push"),
                "someuser/cached", List.of("pull", "push"), "someuser/uncached", List.of("pull", "push")),
                Duration.ofMinutes(30)))) {
            alpine = seeder.pushOciImage(registry.url(), "library/alpine", "3.20", 256 << 10, 320);
            app = seeder.pushDockerImage(registry.url(), "someuser/app", "v1", 64 << 10, 11);
            cached = seeder.pushOciImage(registry.url(), "someuser/cached", "v1", 4096, 12);
            seeder.pushOciImage(registry.url(), "someuser/uncached", "v1", 4096, 13);
        }

        int front = Ports.free();
        int cdn = Ports.free();
        Path nginxFlags = Files.createDirectories(dir.resolve("flags"));
        rateLimitedFlag = nginxFlags.resolve("ratelimited");
        String proxyToRegistry = "      proxy_pass http://127.0.0.1:" + registry.port() + ";\n"
                + "      proxy_set_header Host $host;\n"
                + "      proxy_http_version 1.1;\n"
                + "      proxy_set_header Connection \"\";\n"
                + "      proxy_buffering off;\n";
        nginx = Nginx.start(""
                + "server {\n"
                + "  listen 127.0.0.1:" + front + " ssl;\n"
                + "  server_name registry-1.docker.io;\n"
                + "  ssl_certificate " + registryCert.certificatePem() + ";\n"
                + "  ssl_certificate_key " + registryCert.keyPem() + ";\n"
                + "  location / {\n"
                + "    if (-f " + rateLimitedFlag + ") {\n"
                + "      add_header Retry-After 3600 always;\n"
                + "      add_header RateLimit-Limit \"100;w=21600\" always;\n"
                + "      add_header RateLimit-Remaining \"0;w=21600\" always;\n"
                + "      add_header Docker-RateLimit-Source \"203.0.113.7\" always;\n"
                + "      return 429 '{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"You have reached your "
                + "pull rate limit.\"}]}';\n"
                + "    }\n"
                + "    add_header RateLimit-Limit \"100;w=21600\" always;\n"
                + "    add_header RateLimit-Remaining \"7;w=21600\" always;\n"
                + "    add_header Docker-RateLimit-Source \"203.0.113.7\" always;\n"
                + proxyToRegistry
                + "  }\n"
                + "}\n"
                + "server {\n"
                + "  listen 127.0.0.2:" + cdn + " ssl;\n"
                + "  server_name production.cloudflare.docker.com;\n"
                + "  ssl_certificate " + cdnCert.certificatePem() + ";\n"
                + "  ssl_certificate_key " + cdnCert.keyPem() + ";\n"
                + "  root " + registry.storageDir() + ";\n"
                + "  location / {\n"
                + "    if ($http_authorization) {\n"
                + "      return 400 '<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism "
                + "allowed</Message></Error>';\n"
                + "    }\n"
                + "    try_files $uri =404;\n"
                + "  }\n"
                + "}\n",
                Nginx.address("127.0.0.1", front), Nginx.address("127.0.0.2", cdn));

        proxy = TcpRelay.routed(new ConnectTap()
                .route("registry-1.docker.io", 443, Nginx.address("127.0.0.1", front))
                .route("auth.docker.io", 443, Nginx.address("127.0.0.1", auth.port()))
                .route("production.cloudflare.docker.com", 443, Nginx.address("127.0.0.2", cdn)));

        int port = Ports.free();
        Path config = dir.resolve("wharf.yaml");
        Files.writeString(config, "listen: 127.0.0.1:" + port + "\n"
                + "storage:\n  path: " + dir.resolve("store") + "\n"
                + "defaultProject: dockerhub\n"
                + "projects:\n"
                + "  - name: dockerhub\n"
                + "    upstream: https://registry-1.docker.io\n"
                + "    aliases: [docker.io]\n"
                + "    tagTtl: " + TAG_TTL.toSeconds() + "s\n"
                + "    username: " + USER + "\n"
                + "    password: ${DOCKERHUB_TOKEN}\n"
                + "    visibility: public\n");
        startedNanos = System.nanoTime();
        wharf = WharfProcess.builder().configFile(config).port(port)
                .env("HTTPS_PROXY", proxy.url())
                .env("NO_PROXY", "internal.example,10.0.0.0/8")
                .env("DOCKERHUB_TOKEN", PAT)
                .jvmArgs(ca.trustStoreJvmArgs().toArray(new String[0]))
                .start();
    }

    @AfterAll
    void stop() throws Exception {
        try {
            if (wharf != null) {
                wharf.close();
            }
        } finally {
            if (proxy != null) {
                proxy.close();
            }
            if (nginx != null) {
                nginx.close();
            }
            if (registry != null) {
                registry.close();
            }
            if (auth != null) {
                auth.close();
            }
        }
    }

    private Exec.Result skopeoCopy(String reference, String out) {
        return Exec.run(Duration.ofSeconds(120), Tools.require("skopeo").toString(), "copy", "--src-tls-verify=false",
                "docker://" + wharf.hostPort() + "/" + reference, "oci:" + dir.resolve(out) + ":x");
    }

    private HttpResponse<byte[]> get(String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(wharf.url() + path)).timeout(Duration.ofSeconds(60));
        for (int i = 0; i + 1 < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    @Test
    void oneSegmentNamesGetLibraryAndBlobsComeFromTheCdnWithoutAuthorization() throws Exception {
        Exec.Result pull = skopeoCopy("dockerhub/alpine:3.20", "alpine");
        assertEquals(0, pull.exitCode(), pull.describe() + "\n" + wharf.log());
        // containerd's way: a bare path with ?ns=docker.io
        HttpResponse<byte[]> viaNs = get("/v2/alpine/manifests/3.20?ns=docker.io", "Accept", ImageSeeder.OCI_MANIFEST);
        assertEquals(200, viaNs.statusCode());
        assertEquals(alpine.manifestDigest(), ImageSeeder.sha256(viaNs.body()));

        List<DistributionRegistry.Request> seen = registry.requests().stream()
                .filter(r -> r.userAgent().startsWith("wharf")).toList();
        assertTrue(seen.stream().anyMatch(r -> r.path().equals("/v2/library/alpine/manifests/3.20")
                && r.status() == 200), seen.toString());
        assertTrue(seen.stream().noneMatch(r -> r.path().startsWith("/v2/alpine/")), seen.toString());
        for (String blob : alpine.blobDigests()) {
            assertTrue(seen.stream().anyMatch(r -> r.path().equals("/v2/library/alpine/blobs/" + blob)
                    && r.status() == 307), "blob " + blob + " answered with a redirect: " + seen);
        }
        List<Nginx.Request> atCdn = nginx.requests().stream().filter(r -> r.server().startsWith("127.0.0.2:")).toList();
        for (String blob : alpine.blobDigests()) {
            String hex = blob.substring("sha256:".length());
            assertTrue(atCdn.stream().anyMatch(r -> r.uri().equals("/docker/registry/v2/blobs/sha256/"
                    + hex.substring(0, 2) + "/" + hex + "/data") && r.status() == 200), atCdn.toString());
        }
        assertTrue(atCdn.stream().noneMatch(Nginx.Request::authorization),
                "wharf sent Authorization to the CDN: " + atCdn);

        List<TokenServer.Request> tokens = auth.requests().stream()
                .filter(r -> r.scopes().contains("repository:library/alpine:pull")).toList();
        assertEquals(1, tokens.size(), auth.requests().toString());
        assertEquals(USER, tokens.get(0).user(), "the personal access token goes to auth.docker.io");

        assertTrue(proxy.tap(ConnectTap.class).tunnels("registry-1.docker.io:443") >= 1, proxy.tap(ConnectTap.class).tunnels().toString());
        assertTrue(proxy.tap(ConnectTap.class).tunnels("auth.docker.io:443") >= 1, "token requests go through the proxy too: "
                + proxy.tap(ConnectTap.class).tunnels());
        assertTrue(proxy.tap(ConnectTap.class).tunnels("production.cloudflare.docker.com:443") >= 1, proxy.tap(ConnectTap.class).tunnels().toString());
        assertEquals(List.of(), proxy.tap(ConnectTap.class).refused());
        assertFalse(wharf.log().contains(PAT), "the access token appears in wharf's log");
        System.out.println("docker hub: tunnels " + proxy.tap(ConnectTap.class).tunnels() + ", token requests " + auth.requests().size());
    }

    @Test
    void warmPullByTagAfterTheTtlIsOneHeadAndNoGet() throws Exception {
        Exec.Result cold = skopeoCopy("dockerhub/someuser/app:v1", "app-cold");
        assertEquals(0, cold.exitCode(), cold.describe());
        Thread.sleep(TAG_TTL.toMillis() + 500);
        int before = registry.requests().size();
        Exec.Result warm = skopeoCopy("dockerhub/someuser/app:v1", "app-warm");
        assertEquals(0, warm.exitCode(), warm.describe());
        List<DistributionRegistry.Request> during = registry.requests().subList(before, registry.requests().size());
        List<DistributionRegistry.Request> heads = during.stream()
                .filter(r -> r.method().equals("HEAD") && r.path().equals("/v2/someuser/app/manifests/v1")).toList();
        long gets = during.stream().filter(r -> r.method().equals("GET")).count();
        System.out.println("docker hub quota: warm pull after TTL made " + during.size() + " upstream request(s): "
                + during);
        assertEquals(1, heads.size(), during.toString());
        assertEquals(200, heads.get(0).status());
        assertEquals(0, gets, "no GET (a GET of a manifest counts as a pull): " + during);
        assertEquals(1, during.size(), "nothing but the HEAD: " + during);
    }

    @Test
    void rateLimitHeadersAreKeptAndALowQuotaIsLoggedOnce() throws Exception {
        Exec.Result pull = skopeoCopy("dockerhub/someuser/app:v1", "app-quota");
        assertEquals(0, pull.exitCode(), pull.describe());
        String log = wharf.log();
        Matcher m = Pattern.compile("project dockerhub: upstream pull quota is low: (\\d+) of 100 requests left per 6h "
                + "\\(counted for 203\\.0\\.113\\.7\\)").matcher(log);
        int warnings = 0;
        while (m.find()) {
            warnings++;
        }
        long minutes = Duration.ofNanos(System.nanoTime() - startedNanos).toMinutes();
        assertTrue(warnings >= 1 && warnings <= 1 + minutes, warnings + " warnings in " + minutes + " min:\n" + log);
        HttpResponse<byte[]> metrics = get("/metrics");
        assertEquals(200, metrics.statusCode());
        String text = new String(metrics.body());
        assertTrue(Pattern.compile("wharf_upstream_ratelimit_remaining\\{project=\"dockerhub\"\\} (7|0)\\.0")
                .matcher(text).find(), text.lines().filter(l -> l.contains("ratelimit")).toList().toString());
    }

    @Test
    void rateLimitedServesCachedManifestsAndPassesRetryAfterForTheRest() throws Exception {
        Exec.Result pull = skopeoCopy("dockerhub/someuser/cached:v1", "cached");
        assertEquals(0, pull.exitCode(), pull.describe());
        Files.createFile(rateLimitedFlag);
        try {
            Thread.sleep(TAG_TTL.toMillis() + 500);
            HttpResponse<byte[]> stale = get("/v2/dockerhub/someuser/cached/manifests/v1",
                    "Accept", ImageSeeder.OCI_MANIFEST);
            assertEquals(200, stale.statusCode(), new String(stale.body()));
            assertEquals(cached.manifestDigest(), ImageSeeder.sha256(stale.body()));
            assertTrue(stale.headers().firstValue("Warning").orElse("").startsWith("110"),
                    stale.headers().map().toString());

            HttpResponse<byte[]> limited = get("/v2/dockerhub/someuser/uncached/manifests/v1",
                    "Accept", ImageSeeder.OCI_MANIFEST);
            assertEquals(429, limited.statusCode(), new String(limited.body()));
            assertEquals("3600", limited.headers().firstValue("Retry-After").orElse(null));
            assertEquals("TOOMANYREQUESTS", new ObjectMapper().readTree(limited.body())
                    .get("errors").get(0).get("code").asText());
            assertTrue(nginx.count(r -> r.status() == 429) >= 2, "the upstream did rate-limit");
        } finally {
            Files.deleteIfExists(rateLimitedFlag);
        }
    }
}
