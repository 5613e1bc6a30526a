package dev.wharf.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The relay's taps against a loopback server that answers every connection with the same bytes. */
class TcpRelayTest {
    private static final byte[] ANSWER = new byte[100_000];

    /** Reads one request head, answers {@link #ANSWER} and closes; returns the port. */
    private static ServerSocket answering() throws Exception {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    int last4 = 0;
                    while (last4 != 0x0d0a0d0a) {
                        int b = in.read();
                        if (b < 0) {
                            break;
                        }
                        last4 = (last4 << 8) | b;
                    }
                    s.getOutputStream().write(ANSWER);
                } catch (Exception e) {
                    // closed
                }
            }
        });
        t.setDaemon(true);
        t.start();
        return server;
    }

    private static byte[] exchange(int port, String request) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            return s.getInputStream().readAllBytes();
        }
    }

    @Test
    void countsAndLogsWhatPassesUnchanged() throws Exception {
        try (ServerSocket server = answering();
                TcpRelay relay = TcpRelay.toLocalPort(server.getLocalPort(), new CountTap(), new RequestLogTap())) {
            byte[] got = exchange(relay.port(), "GET /v2/a/blobs/x?ns=docker.io HTTP/1.1\r\nHost: h\r\n\r\n");
            assertArrayEquals(ANSWER, got);
            CountTap count = relay.tap(CountTap.class);
            assertEquals(1, count.connections());
            assertEquals(ANSWER.length, count.downstreamBytes());
            RequestLogTap log = relay.tap(RequestLogTap.class);
            assertEquals(List.of(new RequestLogTap.Request("GET", "/v2/a/blobs/x?ns=docker.io")), log.requests());
            assertEquals("/v2/a/blobs/x", log.requests().get(0).path());
            assertEquals(1, log.count("GET", "/blobs/"));
        }
    }

    @Test
    void cutsAfterTheLimitAndThrottles() throws Exception {
        try (ServerSocket server = answering();
                TcpRelay relay = TcpRelay.toLocalPort(server.getLocalPort(), new CutTap(10_000),
                        new ThrottleTap(200_000))) {
            long start = System.nanoTime();
            byte[] got = exchange(relay.port(), "GET / HTTP/1.1\r\n\r\n");
            assertEquals(10_000, got.length);
            assertEquals(1, relay.tap(CutTap.class).cuts());
            relay.tap(CutTap.class).setDownstreamLimit(-1);
            got = exchange(relay.port(), "GET / HTTP/1.1\r\n\r\n");
            assertEquals(ANSWER.length, got.length);
            assertTrue(System.nanoTime() - start >= 400_000_000L, "100 KB at 200 KB/s take half a second");
        }
    }

    @Test
    void tunnelsRoutedConnectsAndRefusesTheRest() throws Exception {
        try (ServerSocket server = answering();
                TcpRelay proxy = TcpRelay.routed(new ConnectTap().route("registry.example", 443,
                        new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort())))) {
            byte[] got = exchange(proxy.port(), "CONNECT registry.example:443 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
            String head = "HTTP/1.1 200 Connection established\r\n\r\n";
            assertEquals(head.length() + ANSWER.length, got.length);
            assertTrue(new String(got, 0, head.length(), StandardCharsets.ISO_8859_1).equals(head));
            byte[] refused = exchange(proxy.port(), "CONNECT elsewhere.example:443 HTTP/1.1\r\n\r\n");
            assertTrue(new String(refused, StandardCharsets.ISO_8859_1).startsWith("HTTP/1.1 502"));
            ConnectTap tap = proxy.tap(ConnectTap.class);
            assertEquals(1, tap.tunnels("registry.example:443"));
            assertEquals(List.of("CONNECT elsewhere.example:443 HTTP/1.1"), tap.refused());
        }
    }
}
