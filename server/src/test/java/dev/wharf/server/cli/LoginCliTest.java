package dev.wharf.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.wharf.testing.Exec;
import dev.wharf.testing.OidcProvider;
import dev.wharf.testing.WharfCli;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code wharf login --oidc}, run as a user runs it (a child JVM).
 *
 * <p>Hydra v2.3.0, the real provider the other OIDC tests use, has no device authorization grant (Ory added it in a
 * later release that the module proxy here does not serve), and no other provider that can be had here offers one
 * without code of our own. So the happy path runs against an in-process fake of the three endpoints RFC 8628 needs
 * (discovery, device authorization, token, plus its JWKS), which also answers {@code slow_down} on demand, a reply
 * a real provider gives only under load. Against the real Hydra the command must say plainly that the provider has
 * no device grant.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class LoginCliTest {
    @RegisterExtension
    static final OidcProvider HYDRA = new OidcProvider();
    private static final Duration CLI_TIMEOUT = Duration.ofSeconds(90);
    private static final ObjectMapper JSON = new ObjectMapper();

    private HttpServer fake;

    @AfterEach
    void stopFake() {
        if (fake != null) {
            fake.stop(0);
        }
    }

    /** The fake device-flow provider: polls answer pending, then slow_down, then the tokens (per poll count). */
    private final class FakeProvider {
        final ECKey key;
        final String issuer;
        final List<Instant> polls = new CopyOnWriteArrayList<>();
        final Map<String, Integer> pollsPerCode = new ConcurrentHashMap<>();
        final List<String> idTokens = new CopyOnWriteArrayList<>();
        final List<String> answers;

        FakeProvider(List<String> answers) throws Exception {
            this.answers = answers;
            key = new ECKeyGenerator(Curve.P_256).keyID("fake-1").generate();
            fake = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            issuer = "http://127.0.0.1:" + fake.getAddress().getPort() + "/fake";
            fake.createContext("/fake/.well-known/openid-configuration", ex -> reply(ex, 200, Map.of(
                    "issuer", issuer, "jwks_uri", issuer + "/keys", "token_endpoint", issuer + "/token",
                    "device_authorization_endpoint", issuer + "/device/code")));
            fake.createContext("/fake/keys", ex -> reply(ex, 200, new JWKSet(key.toPublicJWK()).toJSONObject()));
            fake.createContext("/fake/device/code", ex -> {
                String form = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                if (!form.contains("client_id=wharf") || !form.contains("scope=openid")) {
                    reply(ex, 400, Map.of("error", "invalid_request"));
                    return;
                }
                reply(ex, 200, Map.of("device_code", "dev-" + pollsPerCode.size(), "user_code", "WDJB-MJHT",
                        "verification_uri", issuer + "/device", "expires_in", 120, "interval", 1));
            });
            fake.createContext("/fake/token", ex -> {
                String form = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                polls.add(Instant.now());
                String code = form.replaceAll(".*device_code=([^&]*).*", "$1");
                int n = pollsPerCode.merge(code, 1, Integer::sum);
                String answer = answers.get(Math.min(n - 1, answers.size() - 1));
                if (!form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code")) {
                    reply(ex, 400, Map.of("error", "unsupported_grant_type"));
                } else if (answer.equals("token")) {
                    String idToken = idToken();
                    idTokens.add(idToken);
                    reply(ex, 200, Map.of("id_token", idToken, "access_token", "at", "token_type", "Bearer"));
                } else {
                    reply(ex, 400, Map.of("error", answer));
                }
            });
            fake.start();
        }

        String idToken() {
            try {
                Instant now = Instant.now();
                SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("fake-1").build(),
                        new JWTClaimsSet.Builder().issuer(issuer).audience("wharf").subject("u-1")
                                .claim("preferred_username", "alice").claim("groups", List.of("ci", "dev"))
                                .claim("teams", List.of("platform"))
                                .issueTime(Date.from(now)).expirationTime(Date.from(now.plusSeconds(600))).build());
                jwt.sign(new ECDSASigner(key));
                return jwt.serialize();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static void reply(HttpExchange ex, int status, Object body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
        ex.close();
    }

    @Test
    void theDeviceFlowHonoursSlowDownAndEndsInADockerLoginCommand(@TempDir Path dir) throws Exception {
        FakeProvider p = new FakeProvider(List.of("authorization_pending", "slow_down", "token"));
        Path tokenFile = dir.resolve("sub/id-token");
        Exec.Result r = WharfCli.run(CLI_TIMEOUT, "login", "--oidc", "--issuer", p.issuer, "--client-id", "wharf",
                "--registry", "wharf.test:5000", "--token-file", tokenFile.toString());
        assertEquals(0, r.exitCode(), r.describe());
        assertTrue(r.output().contains("Open " + p.issuer + "/device and enter the code WDJB-MJHT"), r.output());
        assertTrue(r.output().contains("Signed in as alice (groups: ci, dev)"), r.output());
        assertTrue(r.output().contains("docker login wharf.test:5000 -u alice --password-stdin < " + tokenFile),
                r.output());
        assertEquals(3, p.polls.size(), "polls: " + p.polls);
        // The interval was 1 s; slow_down adds 5 s to it (RFC 8628 3.5).
        assertTrue(Duration.between(p.polls.get(0), p.polls.get(1)).toMillis() >= 900, "polls: " + p.polls);
        assertTrue(Duration.between(p.polls.get(1), p.polls.get(2)).toMillis() >= 5900, "polls: " + p.polls);
        String token = p.idTokens.get(0);
        assertFalse(r.output().contains(token), "the token is printed: " + r.output());
        assertEquals(token, Files.readString(tokenFile).strip());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile)));
    }

    @Test
    void printTokenPutsTheTokenAloneOnStdout(@TempDir Path dir) throws Exception {
        FakeProvider p = new FakeProvider(List.of("token"));
        Exec.Result r = WharfCli.run(CLI_TIMEOUT, "login", "--oidc", "--issuer", p.issuer, "--client-id", "wharf",
                "--print-token");
        assertEquals(0, r.exitCode(), r.describe());
        String token = p.idTokens.get(0);
        assertTrue(r.output().lines().anyMatch(token::equals), r.output());
        assertTrue(r.output().contains("docker login WHARF_HOST -u alice --password-stdin"), r.output());
    }

    @Test
    void aDeniedLoginFailsWithoutATrace() throws Exception {
        FakeProvider p = new FakeProvider(List.of("access_denied"));
        Exec.Result r = WharfCli.run(CLI_TIMEOUT, "login", "--oidc", "--issuer", p.issuer, "--client-id", "wharf",
                "--print-token");
        assertEquals(1, r.exitCode(), r.describe());
        assertTrue(r.output().contains("wharf login: the login was denied at the provider"), r.output());
        assertFalse(r.output().contains("Exception"), r.output());
    }

    @Test
    void hydraWithoutADeviceGrantIsNamedAsSuch() {
        Exec.Result r = WharfCli.run(CLI_TIMEOUT, "login", "--oidc", "--issuer", HYDRA.issuer().toString(),
                "--client-id", "wharf", "--print-token");
        assertEquals(1, r.exitCode(), r.describe());
        assertTrue(r.output().contains("offers no device authorization grant"), r.output());
    }

    @Test
    void configFileGivesIssuerClientIdAndGroupsClaimWhenFlagsAreAbsent(@TempDir Path dir) throws Exception {
        FakeProvider p = new FakeProvider(List.of("token"));
        Path config = dir.resolve("wharf.yaml");
        Files.writeString(config, "auth:\n  oidc:\n    issuer: '" + p.issuer + "'\n    clientId: wharf\n"
                + "    groupsClaim: teams\n    groups: {platform: [ci]}\n");
        Exec.Result r = WharfCli.run(CLI_TIMEOUT, "login", "--oidc", "--config", config.toString(), "--print-token");
        assertEquals(0, r.exitCode(), r.describe());
        assertTrue(r.output().contains("Open " + p.issuer + "/device"), r.output());
        // The groups come from the config's groupsClaim ("teams"), not the default "groups" claim.
        assertTrue(r.output().contains("Signed in as alice (groups: platform)"), r.output());
        assertTrue(r.output().lines().anyMatch(p.idTokens.get(0)::equals), r.output());
        // A flag wins over the config: --groups-claim groups reads the other claim.
        fake.stop(0); // the next fake takes the field @AfterEach stops
        FakeProvider again = new FakeProvider(List.of("token"));
        Files.writeString(config, "auth:\n  oidc:\n    issuer: '" + again.issuer + "'\n    clientId: wharf\n"
                + "    groupsClaim: teams\n");
        Exec.Result flag = WharfCli.run(CLI_TIMEOUT, "login", "--oidc", "--config", config.toString(),
                "--groups-claim", "groups", "--print-token");
        assertEquals(0, flag.exitCode(), flag.describe());
        assertTrue(flag.output().contains("Signed in as alice (groups: ci, dev)"), flag.output());
        // A config without auth.oidc, or one that does not parse, is a usage error naming the file.
        Path noOidc = dir.resolve("plain.yaml");
        Files.writeString(noOidc, "listen: 127.0.0.1:5000\n");
        Exec.Result none = WharfCli.run(CLI_TIMEOUT, "login", "--oidc", "--config", noOidc.toString());
        assertEquals(2, none.exitCode(), none.describe());
        assertTrue(none.output().contains("has no auth.oidc"), none.output());
        Exec.Result missing = WharfCli.run(CLI_TIMEOUT, "login", "--oidc", "--config",
                dir.resolve("absent.yaml").toString());
        assertEquals(2, missing.exitCode(), missing.describe());
        assertTrue(missing.output().contains("absent.yaml"), missing.output());
    }

    @Test
    void usageErrors() {
        Exec.Result noOidc = WharfCli.run(CLI_TIMEOUT, "login", "--issuer", "https://idp.example.com",
                "--client-id", "wharf");
        assertEquals(2, noOidc.exitCode(), noOidc.describe());
        assertTrue(noOidc.output().contains("only --oidc is supported"), noOidc.output());
        Exec.Result plainHttp = WharfCli.run(CLI_TIMEOUT, "login", "--oidc", "--issuer", "http://idp.example.com",
                "--client-id", "wharf");
        assertEquals(2, plainHttp.exitCode(), plainHttp.describe());
        assertTrue(plainHttp.output().contains("must use https"), plainHttp.output());
    }
}
