package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.auth.upstream.BearerTokens;
import dev.wharf.auth.upstream.Credentials;
import dev.wharf.server.egress.EgressProxy;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.NettyLeaks;
import dev.wharf.testing.ConnectTap;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.TokenServer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@link UpstreamClient} against real registries (issue 8 item 20: these cases used in-process fakes before): a
 * {@code docker-registry} serving TLS with a certificate from a test CA and {@code auth: token}, whose JWTs a
 * {@link TokenServer} signs, and a second {@code docker-registry} with {@code htpasswd} (Basic) auth. Requests are
 * counted in the registry's own access log and in the token server's. What no real registry can show stays with
 * fakes: a challenge without a scope ({@code UpstreamClientFakeTest}) and the SNI name a server received
 * ({@code UpstreamTlsTest}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UpstreamClientRealRegistryTest {
    private static final long T = RecordingListener.TIMEOUT_S;
    private static final String USER = "puller";
    private static final String PASSWORD = "real-Pass-41c7";
    private static final String REPO = "team/app";

    private Path dir;
    private TestCa ca;
    private TokenServer tokens;
    private DistributionRegistry tokenRegistry;
    private DistributionRegistry basicRegistry;
    private EventLoopGroup group;
    private SslContext trustCa;
    private ImageSeeder.Image image;
    private UpstreamClient client;

    @BeforeAll
    void start() throws Exception {
        dir = Files.createTempDirectory("wharf-upstream-real");
        ca = TestCa.create("wharf upstream client test CA", dir.resolve("ca"));
        // The certificate names 127.0.0.1 only: reached as localhost, the name check must refuse it.
        TestCa.Issued tls = ca.server("127.0.0.1");
        tokens = TokenServer.builder(ca.signer("wharf upstream client signer")).user(USER, PASSWORD)
                .policy((user, repo, requested) -> user != null && requested.contains("pull")
                        ? Set.of("pull") : Set.of())
                .start();
        tokenRegistry = DistributionRegistry.builder().tls(tls.certificatePem(), tls.keyPem())
                .extraYaml(tokens.registryAuthYaml(tokens.realm(), ca.certificatePem())).start();
        try (ImageSeeder seeder = ImageSeeder.withAuthorization("Bearer " + tokens.mint("seeder",
                Map.of(REPO, List.of("pull", "push")), Duration.ofMinutes(30)), ca.clientContext())) {
            image = seeder.pushOciImage(tokenRegistry.url(), REPO, "v1", 4096, 2001);
        }
        basicRegistry = DistributionRegistry.builder().htpasswdUser(USER, PASSWORD).start();
        try (ImageSeeder seeder = new ImageSeeder(USER, PASSWORD)) {
            seeder.pushOciImage(basicRegistry.url(), REPO, "v1", 4096, 2002);
        }
        group = new NioEventLoopGroup(2);
        trustCa = UpstreamTls.clientSslContext(ca.certificatePem());
    }

    @AfterAll
    void stop() throws Exception {
        try {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        } finally {
            for (AutoCloseable c : new AutoCloseable[] {basicRegistry, tokenRegistry, tokens}) {
                if (c != null) {
                    c.close();
                }
            }
        }
        NettyLeaks.assertNoLeaks();
    }

    @BeforeEach
    void newClient() {
        client = new UpstreamClient(group, new BearerTokens(), Duration.ofSeconds(5), Duration.ofSeconds(10));
    }

    @AfterEach
    void closeClient() {
        client.close();
        tokens.validFor(Duration.ofMinutes(5));
    }

    private UpstreamEndpoint tokenEndpoint(String host, SslContext ssl, Credentials credentials) {
        return new UpstreamEndpoint(URI.create("https://" + host + ":" + tokenRegistry.port()), ssl, credentials,
                "realproj");
    }

    private static UpstreamRequest get(String path) {
        return new UpstreamRequest(HttpMethod.GET, path, null, new DefaultHttpHeaders()
                .set("Accept", ImageSeeder.OCI_MANIFEST), REPO);
    }

    private static UpstreamResponse await(CompletableFuture<UpstreamResponse> f) throws Exception {
        return f.get(T, TimeUnit.SECONDS);
    }

    private long registryRequests(DistributionRegistry registry, String path) {
        return registry.requests().stream().filter(r -> r.userAgent().startsWith("wharf"))
                .filter(r -> r.path().equals(path)).count();
    }

    private List<Integer> statuses(DistributionRegistry registry, String path) {
        return registry.requests().stream().filter(r -> r.userAgent().startsWith("wharf"))
                .filter(r -> r.path().equals(path)).map(DistributionRegistry.Request::status).toList();
    }

    @Test
    void bearerChallengeThenTheCachedTokenIsSentUpFrontOverOnePooledTlsConnection() throws Exception {
        String path = "/v2/" + REPO + "/manifests/v1";
        long tokensBefore = tokens.requestsFor("repository:" + REPO + ":pull");
        long before = registryRequests(tokenRegistry, path);
        UpstreamEndpoint ep = tokenEndpoint("127.0.0.1", trustCa, new Credentials(USER, PASSWORD));

        UpstreamResponse r = await(client.fetch(ep, get(path), 1 << 20));
        assertEquals(200, r.status(), new String(r.body(), StandardCharsets.UTF_8));
        assertEquals(image.manifestDigest(), ImageSeeder.sha256(r.body()));
        assertEquals(before + 2, registryRequests(tokenRegistry, path), "a 401, then the request with the token");
        assertEquals(tokensBefore + 1, tokens.requestsFor("repository:" + REPO + ":pull"));
        assertTrue(tokens.requests().stream().allMatch(t -> t.user() == null || USER.equals(t.user())),
                tokens.requests().toString());

        r = await(client.fetch(ep, get(path), 1 << 20));
        assertEquals(200, r.status());
        assertEquals(before + 3, registryRequests(tokenRegistry, path), "the cached token goes up front");
        assertEquals(tokensBefore + 1, tokens.requestsFor("repository:" + REPO + ":pull"), "no new token");
        List<Integer> seen = statuses(tokenRegistry, path);
        assertEquals(List.of(401, 200, 200), seen.subList(seen.size() - 3, seen.size()));
        assertEquals(1, client.connectionsOpened(), "the 401's body was drained and its TLS connection reused");
    }

    @Test
    void aTokenTheRegistryRejectsIsRefreshedOnceThenThe401IsTheAnswer() throws Exception {
        // The token server signs tokens already expired (past distribution's leeway), so the registry refuses each.
        tokens.validFor(Duration.ofMinutes(-5));
        String path = "/v2/" + REPO + "/manifests/v1";
        long tokensBefore = tokens.requests().size();
        long before = registryRequests(tokenRegistry, path);
        UpstreamResponse r = await(client.fetch(tokenEndpoint("127.0.0.1", trustCa, new Credentials(USER, PASSWORD)),
                get(path), 1 << 20));
        assertEquals(401, r.status());
        assertTrue(new String(r.body(), StandardCharsets.UTF_8).contains("UNAUTHORIZED"),
                new String(r.body(), StandardCharsets.UTF_8));
        assertEquals(before + 3, registryRequests(tokenRegistry, path), "first try, first token, refreshed token");
        assertEquals(tokensBefore + 2, tokens.requests().size(), tokens.requests().toString());
    }

    @Test
    void aTokenEndpointRefusingTheCredentialsIsAnUpstreamErrorThatNeverNamesThePassword() throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> await(client.fetch(
                tokenEndpoint("127.0.0.1", trustCa, new Credentials("bob", "hunter2-secret")),
                get("/v2/" + REPO + "/manifests/v1"), 1 << 20)));
        assertInstanceOf(UpstreamException.class, e.getCause());
        String message = e.getCause().getMessage();
        assertTrue(message.contains("realproj") && message.contains("401"), message);
        assertFalse(message.contains("hunter2-secret"), message);
        assertTrue(tokens.requests().stream().anyMatch(t -> "bob".equals(t.user()) || t.status() == 401),
                "the token server saw the refused request: " + tokens.requests());
    }

    @Test
    void basicChallengeIsAnsweredWithTheCredentialsAndRememberedForTheHost() throws Exception {
        String path = "/v2/" + REPO + "/manifests/v1";
        UpstreamEndpoint withCredentials = new UpstreamEndpoint(basicRegistry.url(), null,
                new Credentials(USER, PASSWORD), "basicproj");
        long before = registryRequests(basicRegistry, path);
        assertEquals(200, await(client.fetch(withCredentials, get(path), 1 << 20)).status());
        assertEquals(before + 2, registryRequests(basicRegistry, path), "a 401, then the request with Basic");
        assertEquals(200, await(client.fetch(withCredentials, get(path), 1 << 20)).status());
        assertEquals(before + 3, registryRequests(basicRegistry, path), "Basic goes up front the second time");
        List<Integer> seen = statuses(basicRegistry, path);
        assertEquals(List.of(401, 200, 200), seen.subList(seen.size() - 3, seen.size()));

        UpstreamEndpoint anonymous = new UpstreamEndpoint(basicRegistry.url(), null, null, "anonproj");
        assertEquals(401, await(client.fetch(anonymous, get(path), 1 << 20)).status());
        assertEquals(before + 4, registryRequests(basicRegistry, path), "without credentials the 401 is the answer");
    }

    @Test
    void theProjectCaFileIsTrustedAndAnAnonymousClientFollowsTheChallengeWithoutCredentials() throws Exception {
        long anonymousBefore = tokens.requests().stream().filter(t -> t.user() == null).count();
        UpstreamResponse r = await(client.fetch(tokenEndpoint("127.0.0.1", trustCa, null),
                new UpstreamRequest(HttpMethod.GET, "/v2/", null, new DefaultHttpHeaders(), null), 1 << 20));
        assertEquals(200, r.status(), "TLS held and the registry's challenge was followed");
        assertEquals(anonymousBefore + 1, tokens.requests().stream().filter(t -> t.user() == null).count(),
                "one anonymous token request: " + tokens.requests());
        List<Integer> seen = statuses(tokenRegistry, "/v2/");
        assertEquals(List.of(401, 200), seen.subList(seen.size() - 2, seen.size()));
    }

    @Test
    void theJdkTrustStoreAloneRejectsThePrivateCa() {
        ExecutionException e = assertThrows(ExecutionException.class, () -> await(client.fetch(
                tokenEndpoint("127.0.0.1", null, null),
                new UpstreamRequest(HttpMethod.GET, "/v2/", null, new DefaultHttpHeaders(), null), 1024)));
        assertInstanceOf(UpstreamException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("TLS"), e.getCause().getMessage());
        assertTrue(e.getCause().getMessage().contains("realproj"), e.getCause().getMessage());
    }

    @Test
    void theHostNameIsVerified() {
        // Trusted CA, but the certificate names 127.0.0.1 and the registry is reached as localhost.
        ExecutionException e = assertThrows(ExecutionException.class, () -> await(client.fetch(
                tokenEndpoint("localhost", trustCa, null),
                new UpstreamRequest(HttpMethod.GET, "/v2/", null, new DefaultHttpHeaders(), null), 1024)));
        assertInstanceOf(UpstreamException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("TLS"), e.getCause().getMessage());
    }

    @Test
    void aBodyLargerThanTheLimitFailsTheFetch() throws Exception {
        String path = "/v2/" + REPO + "/manifests/v1";
        UpstreamEndpoint ep = new UpstreamEndpoint(basicRegistry.url(), null, new Credentials(USER, PASSWORD),
                "basicproj");
        ExecutionException e = assertThrows(ExecutionException.class, () -> await(client.fetch(ep, get(path), 100)));
        assertInstanceOf(UpstreamException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("larger than 100"), e.getCause().getMessage());
    }

    @Test
    void anEgressProxyCarriesTheConnectionToTheRegistry() throws Exception {
        // A CONNECT relay (ConnectTap) that knows one name, registry.test, and tunnels it to the real registry.
        try (TcpRelay proxy = TcpRelay.routed(new ConnectTap().route("registry.test", 5000,
                new InetSocketAddress("127.0.0.1", basicRegistry.port())));
             UpstreamClient proxied = new UpstreamClient(group, new BearerTokens(), Duration.ofSeconds(5),
                     Duration.ofSeconds(10), new EgressProxy("127.0.0.1", proxy.port(), List.of("example.com")))) {
            UpstreamEndpoint ep = new UpstreamEndpoint(URI.create("http://registry.test:5000"), null,
                    new Credentials(USER, PASSWORD), "proxied");
            UpstreamResponse r = await(proxied.fetch(ep, get("/v2/" + REPO + "/manifests/v1"), 1 << 20));
            assertEquals(200, r.status(), new String(r.body(), StandardCharsets.UTF_8));
            assertTrue(proxy.tap(ConnectTap.class).tunnels("registry.test:5000") >= 1,
                    proxy.tap(ConnectTap.class).tunnels().toString());
        }
    }
}
