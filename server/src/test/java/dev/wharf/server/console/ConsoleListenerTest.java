package dev.wharf.server.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.TestCa;
import dev.wharf.testing.WharfYaml;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where the console lives without {@code admin.listen} (on the registry address, like /api/v1), and its login over
 * HTTP: the session cookie's attributes (Secure over TLS only), logging out, a login from a foreign origin, and no
 * configured token meaning no login at all. HTTP-level; {@link ConsoleBrowserTest} drives a real browser.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class ConsoleListenerTest {
    static final String TOKEN = "console-listener-token-77a1";

    @Test
    void withoutAdminListenTheConsoleIsOnTheRegistryAddress(DistributionRegistry registry, @TempDir Path tmp)
            throws Exception {
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("storage"),
                WharfYaml.oneProject("hub", registry.url()).adminToken(TOKEN))) {
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            String base = "http://127.0.0.1:" + wharf.server().port();
            HttpResponse<String> login = login(client, base, base, TOKEN);
            assertEquals(303, login.statusCode(), login.body());
            String cookie = login.headers().firstValue("Set-Cookie").orElseThrow();
            assertTrue(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/ui"),
                    cookie);
            assertFalse(cookie.contains("Secure"), "plain HTTP: a Secure cookie would never come back: " + cookie);
            String session = cookie.substring(0, cookie.indexOf(';'));
            HttpResponse<String> overview = get(client, base + "/ui/overview", session);
            assertEquals(200, overview.statusCode());
            assertTrue(overview.body().contains("id=\"traffic-table\""));
            assertFalse(overview.body().contains(TOKEN));
            assertEquals("DENY", overview.headers().firstValue("X-Frame-Options").orElse(null));

            // Behind a TLS-terminating proxy (X-Forwarded-Proto: https) the origin is https and the cookie Secure.
            HttpResponse<String> proxied = client.send(HttpRequest.newBuilder(URI.create(base + "/ui/login"))
                    .header("Origin", base.replace("http://", "https://")).header("X-Forwarded-Proto", "https")
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString("username=&secret=" + TOKEN)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(303, proxied.statusCode(), proxied.body());
            assertTrue(proxied.headers().firstValue("Set-Cookie").orElseThrow().contains("; Secure"));

            // A login posted from another site is refused, even with the right token.
            assertEquals(403, login(client, base, "http://evil.example", TOKEN).statusCode());
            assertEquals(401, login(client, base, base, "wrong-token-123456").statusCode());

            // Logging out ends the session on the server, not just in the browser.
            String csrf = between(overview.body(), "name=\"csrf\" value=\"", "\"");
            HttpResponse<String> out = client.send(HttpRequest.newBuilder(URI.create(base + "/ui/logout"))
                    .header("Cookie", session).header("Origin", base)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString("csrf=" + csrf)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(303, out.statusCode(), out.body());
            assertTrue(out.headers().firstValue("Set-Cookie").orElse("").contains("Max-Age=0"));
            assertEquals(303, get(client, base + "/ui/overview", session).statusCode(), "the old cookie is dead");
        }
    }

    @Test
    void overTlsTheSessionCookieIsSecure(DistributionRegistry registry, @TempDir Path tmp) throws Exception {
        TestCa ca = TestCa.create("wharf console CA", tmp.resolve("ca"));
        TestCa.Issued pair = ca.server("localhost", "127.0.0.1");
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("storage"), WharfYaml.oneProject("hub",
                registry.url()).adminToken(TOKEN).raw("tls:\n  cert: " + pair.certificatePem() + "\n  key: "
                + pair.keyPem() + "\n"))) {
            HttpClient client = HttpClient.newBuilder().sslContext(ca.clientContext())
                    .connectTimeout(Duration.ofSeconds(5)).build();
            String base = "https://127.0.0.1:" + wharf.server().port();
            HttpResponse<String> login = login(client, base, base, TOKEN);
            assertEquals(303, login.statusCode(), login.body());
            assertTrue(login.headers().firstValue("Set-Cookie").orElseThrow().contains("; Secure"));
            assertEquals(403, login(client, base, "http://127.0.0.1:" + wharf.server().port(), TOKEN).statusCode(),
                    "over TLS an http:// origin is another origin");
        }
    }

    @Test
    void withNoAdminTokenConfiguredNobodyLogsIn(DistributionRegistry registry, @TempDir Path tmp) throws Exception {
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("storage"),
                WharfYaml.oneProject("hub", registry.url()))) {
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            String base = "http://127.0.0.1:" + wharf.server().port();
            assertEquals(401, login(client, base, base, "anything-at-all-123").statusCode());
            assertEquals(401, login(client, base, base, "").statusCode());
        }
    }

    @Test
    void anAdminUserLogsInWithNameAndPasswordAndOtherUsersAreRefused(DistributionRegistry registry,
                                                                    @TempDir Path tmp) throws Exception {
        String alicePw = "alice-pw-" + Long.toHexString(new java.security.SecureRandom().nextLong());
        String bobPw = "bob-pw-" + Long.toHexString(new java.security.SecureRandom().nextLong());
        Path htpasswd = tmp.resolve("htpasswd");
        java.nio.file.Files.writeString(htpasswd, entry("alice", alicePw) + entry("bob", bobPw));
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("storage"), WharfYaml.oneProject("hub",
                registry.url()).adminListen("127.0.0.1:0").raw("auth:\n  htpasswd: " + htpasswd
                + "\n  admins: [alice]\n  auditLog: " + tmp.resolve("audit.log") + "\n"))) {
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            String base = "http://127.0.0.1:" + wharf.server().adminPort();
            HttpResponse<String> alice = login(client, base, base, "alice", alicePw);
            assertEquals(303, alice.statusCode(), alice.body());
            String cookie = alice.headers().firstValue("Set-Cookie").orElseThrow();
            String session = cookie.substring(0, cookie.indexOf(';'));
            HttpResponse<String> overview = get(client, base + "/ui/overview", session);
            assertEquals(200, overview.statusCode());
            assertTrue(overview.body().contains("id=\"traffic-table\""));
            assertFalse(overview.body().contains(alicePw));

            // bob's password is right, but he is not in auth.admins.
            HttpResponse<String> bob = login(client, base, base, "bob", bobPw);
            assertEquals(401, bob.statusCode(), bob.body());
            assertTrue(bob.headers().allValues("Set-Cookie").isEmpty(), "no session for bob");
            assertFalse(bob.body().contains(bobPw));
            // An admin's name with a wrong password, and the password with no name (the admin-token form), fail.
            assertEquals(401, login(client, base, base, "alice", "wrong-" + alicePw).statusCode());
            assertEquals(401, login(client, base, base, "", alicePw).statusCode());
            // Without a session the console sends the browser to the login page.
            assertEquals(303, get(client, base + "/ui/overview", "wharf_console=none").statusCode());
        }
    }

    private static String entry(String user, String password) {
        byte[] salt = new byte[16];
        new java.security.SecureRandom().nextBytes(salt);
        return user + ":" + org.bouncycastle.crypto.generators.OpenBSDBCrypt.generate("2y", password.toCharArray(),
                salt, 5) + "\n";
    }

    private static HttpResponse<String> login(HttpClient client, String base, String origin, String user,
                                              String password) throws Exception {
        String form = "username=" + java.net.URLEncoder.encode(user, java.nio.charset.StandardCharsets.UTF_8)
                + "&secret=" + java.net.URLEncoder.encode(password, java.nio.charset.StandardCharsets.UTF_8);
        return client.send(HttpRequest.newBuilder(URI.create(base + "/ui/login"))
                .header("Origin", origin).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> login(HttpClient client, String base, String origin, String token)
            throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create(base + "/ui/login"))
                .header("Origin", origin).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("username=&secret=" + token)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(HttpClient client, String url, String cookie) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create(url)).header("Cookie", cookie).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String between(String s, String before, String after) {
        int i = s.indexOf(before) + before.length();
        return s.substring(i, s.indexOf(after, i));
    }
}
