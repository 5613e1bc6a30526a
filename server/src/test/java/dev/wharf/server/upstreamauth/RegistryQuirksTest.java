package dev.wharf.server.upstreamauth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.ConnectTap;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.Exec;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Nginx;
import dev.wharf.testing.Ports;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.TokenServer;
import dev.wharf.testing.Tools;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The quirks of ghcr.io, quay.io and registry.k8s.io, each rebuilt on loopback under its real name with a real
 * {@code docker-registry} ({@code auth: token}) behind nginx (TLS, certificates from a test CA), reached through a
 * CONNECT proxy set in wharf's config ({@code egress.proxy}), the CA given as each project's {@code caFile}:
 * <ul>
 *   <li>ghcr.io: even a public image needs a token; an anonymous one is granted ({@code https://ghcr.io/token}).</li>
 *   <li>quay.io: the realm is on the registry host itself, at {@code /v2/auth}; a robot account signs in there.</li>
 *   <li>registry.k8s.io: every manifest and blob request is answered with a 307 to another host
 *       (us-west1-docker.pkg.dev, Artifact Registry) where the repository path differs
 *       ({@code /v2/k8s-artifacts-prod/images/<name>/...}); that host asks for a token of its own, fetched
 *       anonymously: the project's credentials never leave its own host.</li>
 * </ul>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RegistryQuirksTest {
    private static final String ROBOT = "org+robot";
    private static final String ROBOT_TOKEN = "QUAYROBOT0TOKEN0x1";

    private Path dir;
    private TokenServer ghcrAuth;
    private TokenServer quayAuth;
    private TokenServer arAuth;
    private DistributionRegistry ghcr;
    private DistributionRegistry quay;
    private DistributionRegistry ar;
    private Nginx nginx;
    private TcpRelay proxy;
    private InProcessWharf wharf;

    @BeforeAll
    void start() throws Exception {
        Tools.require("skopeo");
        dir = Files.createTempDirectory("wharf-quirks");
        TestCa ca = TestCa.create("wharf quirks test CA", dir.resolve("ca"));

        ghcrAuth = TokenServer.builder(ca.signer("ghcr signer")).issuer("ghcr.io").service("ghcr.io")
                .policy(TokenServer.Policy.ANONYMOUS_PULL).start();
        ghcr = tokenRegistry(ghcrAuth, "https://ghcr.io/token", ca);
        quayAuth = TokenServer.builder(ca.signer("quay signer")).issuer("quay").service("quay.io").path("/v2/auth")
                .user(ROBOT, ROBOT_TOKEN).policy(TokenServer.Policy.USERS_PULL).start();
        quay = tokenRegistry(quayAuth, "https://quay.io/v2/auth", ca);
        arAuth = TokenServer.builder(ca.signer("ar signer")).issuer("Artifact Registry")
                .service("us-west1-docker.pkg.dev").path("/v2/token").policy(TokenServer.Policy.ANONYMOUS_PULL).start();
        ar = tokenRegistry(arAuth, "https://us-west1-docker.pkg.dev/v2/token", ca);

        seed(ghcrAuth, ghcr, "owner/public-app", "v1", 31);
        seed(quayAuth, quay, "org/app", "v1", 32);
        seed(arAuth, ar, "k8s-artifacts-prod/images/pause", "3.9", 33);

        int ghcrPort = Ports.free();
        int quayPort = Ports.free();
        int k8sPort = Ports.free();
        int arPort = Ports.free();
        nginx = Nginx.start(""
                + server("127.0.0.1", ghcrPort, ca.server("ghcr.io"),
                        route("= /token", ghcrAuth.port()) + route("/", ghcr.port()))
                + server("127.0.0.1", quayPort, ca.server("quay.io"),
                        route("= /v2/auth", quayAuth.port()) + route("/", quay.port()))
                + server("127.0.0.1", k8sPort, ca.server("registry.k8s.io"),
                        "  location = /v2/ { return 200 '{}'; }\n"
                        + "  location ~ ^/v2/(.+)/(manifests|blobs|tags)/(.+)$ {\n"
                        + "    return 307 https://us-west1-docker.pkg.dev/v2/k8s-artifacts-prod/images/$1/$2/$3;\n"
                        + "  }\n")
                + server("127.0.0.2", arPort, ca.server("us-west1-docker.pkg.dev"),
                        route("= /v2/token", arAuth.port()) + route("/", ar.port())),
                Nginx.address("127.0.0.1", ghcrPort), Nginx.address("127.0.0.1", quayPort),
                Nginx.address("127.0.0.1", k8sPort), Nginx.address("127.0.0.2", arPort));
        proxy = TcpRelay.routed(new ConnectTap()
                .route("ghcr.io", 443, Nginx.address("127.0.0.1", ghcrPort))
                .route("quay.io", 443, Nginx.address("127.0.0.1", quayPort))
                .route("registry.k8s.io", 443, Nginx.address("127.0.0.1", k8sPort))
                .route("us-west1-docker.pkg.dev", 443, Nginx.address("127.0.0.2", arPort)));
        String caFile = "    caFile: " + ca.certificatePem() + "\n";
        wharf = InProcessWharf.start(dir.resolve("store"), ""
                + "egress:\n  proxy: " + proxy.url() + "\n  noProxy: [internal.example]\n"
                + "projects:\n"
                + "  - name: ghcr.io\n    upstream: https://ghcr.io\n" + caFile
                + "  - name: quay.io\n    upstream: https://quay.io\n" + caFile
                + "    username: " + ROBOT + "\n    password: " + ROBOT_TOKEN + "\n    visibility: public\n"
                + "  - name: registry.k8s.io\n    upstream: https://registry.k8s.io\n" + caFile
                + "    username: k8s-user\n    password: k8s-secret-never-sent\n    visibility: public\n");
    }

    private static DistributionRegistry tokenRegistry(TokenServer auth, String realm, TestCa ca) {
        return DistributionRegistry.builder()
                .extraYaml(auth.registryAuthYaml(URI.create(realm), ca.certificatePem())).start();
    }

    private static void seed(TokenServer auth, DistributionRegistry registry, String repo, String tag, long seed) {
        try (ImageSeeder seeder = ImageSeeder.withAuthorization("Bearer " + auth.mint("seeder",
                Map.of(repo, List.of("pull", "push")), Duration.ofMinutes(30)))) {
            seeder.pushOciImage(registry.url(), repo, tag, 128 << 10, seed);
        }
    }

    private static String server(String ip, int port, TestCa.Issued cert, String locations) {
        return "server {\n  listen " + ip + ":" + port + " ssl;\n"
                + "  ssl_certificate " + cert.certificatePem() + ";\n"
                + "  ssl_certificate_key " + cert.keyPem() + ";\n" + locations + "}\n";
    }

    private static String route(String location, int port) {
        return "  location " + location + " {\n"
                + "    proxy_pass http://127.0.0.1:" + port + ";\n"
                + "    proxy_set_header Host $host;\n"
                + "    proxy_http_version 1.1;\n"
                + "    proxy_set_header Connection \"\";\n"
                + "    proxy_buffering off;\n"
                + "  }\n";
    }

    @AfterAll
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {wharf, proxy, nginx, ghcr, quay, ar, ghcrAuth, quayAuth, arAuth}) {
            if (c != null) {
                c.close();
            }
        }
    }

    private void pull(String reference, String out) {
        Exec.Result r = Exec.run(Duration.ofSeconds(120), Tools.require("skopeo").toString(), "copy",
                "--src-tls-verify=false", "docker://" + wharf.hostPort() + "/" + reference,
                "oci:" + dir.resolve(out) + ":x");
        assertEquals(0, r.exitCode(), r.describe());
    }

    @Test
    void ghcrWantsAnAnonymousTokenEvenForAPublicImage() {
        pull("ghcr.io/owner/public-app:v1", "ghcr");
        List<DistributionRegistry.Request> seen = ghcr.requests().stream()
                .filter(r -> r.userAgent().startsWith("wharf")).toList();
        assertEquals(401, seen.get(0).status(), "without a token the registry says no: " + seen);
        assertTrue(seen.stream().skip(1).allMatch(r -> r.status() == 200), seen.toString());
        List<TokenServer.Request> tokens = ghcrAuth.requests();
        assertEquals(1, tokens.size(), tokens.toString());
        assertEquals(List.of("repository:owner/public-app:pull"), tokens.get(0).scopes());
        assertFalse(tokens.get(0).authorization(), "an anonymous token request: " + tokens);
        assertTrue(proxy.tap(ConnectTap.class).tunnels("ghcr.io:443") >= 1, proxy.tap(ConnectTap.class).tunnels().toString());
    }

    @Test
    void quayHasItsRealmAtV2AuthOnTheRegistryHost() {
        pull("quay.io/org/app:v1", "quay");
        List<TokenServer.Request> tokens = quayAuth.requests();
        assertEquals(1, tokens.size(), tokens.toString());
        assertEquals("/v2/auth", tokens.get(0).path());
        assertEquals(ROBOT, tokens.get(0).user(), "the robot account signs in at the realm");
        assertTrue(nginx.count(r -> r.uri().startsWith("/v2/auth?") && r.status() == 200) >= 1,
                nginx.requests().toString());
        assertTrue(quay.requests().stream().filter(r -> r.userAgent().startsWith("wharf"))
                .anyMatch(r -> r.path().equals("/v2/org/app/manifests/v1") && r.status() == 200));
    }

    @Test
    void k8sRedirectsToAnotherHostAndPathWhichWantsItsOwnAnonymousToken() {
        pull("registry.k8s.io/pause:3.9", "k8s");
        assertTrue(nginx.count(r -> r.uri().equals("/v2/pause/manifests/3.9") && r.status() == 307) >= 1,
                nginx.requests().toString());
        List<DistributionRegistry.Request> seen = ar.requests().stream()
                .filter(r -> r.userAgent().startsWith("wharf")).toList();
        assertTrue(seen.stream().anyMatch(r -> r.path().equals("/v2/k8s-artifacts-prod/images/pause/manifests/3.9")
                && r.status() == 200), seen.toString());
        assertTrue(seen.stream().anyMatch(r -> r.path().startsWith("/v2/k8s-artifacts-prod/images/pause/blobs/")
                && r.status() == 200), seen.toString());
        List<TokenServer.Request> tokens = arAuth.requests();
        assertEquals(1, tokens.size(), "one anonymous token, cached for every redirected request: " + tokens);
        assertEquals(List.of("repository:k8s-artifacts-prod/images/pause:pull"), tokens.get(0).scopes());
        assertFalse(tokens.get(0).authorization(), "the project's credentials never go to another host's realm");
        assertTrue(proxy.tap(ConnectTap.class).tunnels("us-west1-docker.pkg.dev:443") >= 1, proxy.tap(ConnectTap.class).tunnels().toString());
        assertEquals(List.of(), proxy.tap(ConnectTap.class).refused());
    }
}
