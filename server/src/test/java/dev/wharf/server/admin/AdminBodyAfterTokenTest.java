package dev.wharf.server.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RawHttp;
import dev.wharf.testing.WharfYaml;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /api/v1} checks the admin token before it reads a byte of the body: a client without the token announcing
 * a large body gets 401 at once, without sending it, and the connection is closed (the body is never read).
 */
class AdminBodyAfterTokenTest {
    private static final String TOKEN = "0123456789abcdef-admin";
    @TempDir
    static Path dir;
    static InProcessWharf wharf;

    @BeforeAll
    static void start() throws Exception {
        wharf = InProcessWharf.start(dir.resolve("store"),
                WharfYaml.oneProject("hub", "http://127.0.0.1:9").adminToken(TOKEN));
    }

    @AfterAll
    static void stop() {
        wharf.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "Authorization: Bearer wrong-token-0123456789"})
    void noRightTokenGets401BeforeTheBodyIsSent(String authorization) throws Exception {
        try (Socket s = RawHttp.connect(wharf.server().port(), Duration.ofSeconds(5))) {
            String[] headers = authorization.isEmpty()
                    ? new String[] {"Content-Type: application/json", "Content-Length: 500000"}
                    : new String[] {"Content-Type: application/json", "Content-Length: 500000", authorization};
            RawHttp.send(s, RawHttp.request("POST", "/api/v1/prefetch", headers));
            RawHttp.Response r = RawHttp.read(s.getInputStream(), false);
            assertEquals(401, r.status(), r.text());
            assertEquals("close", r.header("Connection"));
            assertTrue(RawHttp.closedWithin(s, Duration.ofSeconds(5)), "the connection waits for the unread body");
        }
    }
}
