package dev.wharf.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The routing tap that makes a {@link TcpRelay} an HTTP CONNECT proxy, like a corporate egress proxy with its own
 * DNS: it tunnels {@code CONNECT host:port} to the address {@link #route(String, int, InetSocketAddress) routed} for
 * that name (e.g. {@code registry-1.docker.io:443} to a loopback nginx), and refuses (502) every target it has no
 * route for, so a test sees anything that tried to leave. It counts tunnels per target.
 *
 * <p>In-process rather than Debian's tinyproxy: the test needs the proxy to resolve real registry names to loopback
 * ports, which tinyproxy could only do through the machine's /etc/hosts, and a test must not edit that.
 */
public final class ConnectTap implements TcpRelay.Tap {
    private final Map<String, InetSocketAddress> routes = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> tunnels = new ConcurrentHashMap<>();
    private final Map<Socket, String> opening = new ConcurrentHashMap<>();
    private final List<String> refused = new CopyOnWriteArrayList<>();

    /** Tunnels {@code CONNECT name:port} to {@code target}. */
    public ConnectTap route(String name, int port, InetSocketAddress target) {
        routes.put(name.toLowerCase(Locale.ROOT) + ":" + port, target);
        return this;
    }

    /** Tunnels opened to {@code host:port} so far. */
    public long tunnels(String hostPort) {
        AtomicLong n = tunnels.get(hostPort.toLowerCase(Locale.ROOT));
        return n == null ? 0 : n.get();
    }

    /** All tunnels opened so far, by target. */
    public Map<String, Long> tunnels() {
        Map<String, Long> out = new TreeMap<>();
        tunnels.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    /** Request lines refused (no route, or not CONNECT). */
    public List<String> refused() {
        return List.copyOf(refused);
    }

    @Override
    public InetSocketAddress route(Socket client, InetSocketAddress ignored) throws IOException {
        client.setSoTimeout(30_000);
        String head = readHead(client.getInputStream());
        String requestLine = head.split("\r\n", 2)[0];
        String[] parts = requestLine.split(" ");
        if (parts.length < 2 || !parts[0].equals("CONNECT")) {
            refused.add(requestLine);
            write(client, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return null;
        }
        String target = parts[1].toLowerCase(Locale.ROOT);
        InetSocketAddress to = routes.get(target);
        if (to == null) {
            refused.add(requestLine);
            write(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return null;
        }
        opening.put(client, target);
        return to;
    }

    /** The tunnel is up: count it and tell the client. */
    @Override
    public void connected(Socket client, Socket server) throws IOException {
        String target = opening.remove(client);
        if (target == null) {
            return;
        }
        tunnels.computeIfAbsent(target, k -> new AtomicLong()).incrementAndGet();
        write(client, "HTTP/1.1 200 Connection established\r\n\r\n");
        client.setSoTimeout(0);
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int last4 = 0;
        while (last4 != 0x0d0a0d0a) { // until CRLF CRLF
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed before the request head ended");
            }
            head.write(b);
            last4 = (last4 << 8) | b;
            if (head.size() > 16384) {
                throw new IOException("request head too large");
            }
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    private static void write(Socket s, String text) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(text.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }
}
