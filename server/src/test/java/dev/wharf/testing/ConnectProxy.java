package dev.wharf.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An HTTP CONNECT proxy on 127.0.0.1, like a corporate egress proxy with its own DNS: it tunnels
 * {@code CONNECT host:port} to the address {@link #route routed} for that name (e.g. {@code registry-1.docker.io:443}
 * to a loopback nginx), and refuses (502) every target it has no route for, so a test sees anything that tried to
 * leave. It counts tunnels per target.
 *
 * <p>In-process rather than Debian's tinyproxy: the test needs the proxy to resolve real registry names to loopback
 * ports, which tinyproxy could only do through the machine's /etc/hosts, and a test must not edit that.
 */
public final class ConnectProxy implements AutoCloseable {
    private final ServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "connect-proxy");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, InetSocketAddress> routes = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> tunnels = new ConcurrentHashMap<>();
    private final List<String> refused = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    public ConnectProxy() throws IOException {
        server = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
        threads.execute(this::acceptLoop);
    }

    /** Tunnels {@code CONNECT name:port} to {@code target}. */
    public ConnectProxy route(String name, int port, InetSocketAddress target) {
        routes.put(name.toLowerCase(Locale.ROOT) + ":" + port, target);
        return this;
    }

    public int port() {
        return server.getLocalPort();
    }

    /** {@code http://127.0.0.1:PORT}, as HTTPS_PROXY or {@code egress.proxy} wants it. */
    public String url() {
        return "http://127.0.0.1:" + port();
    }

    /** Tunnels opened to {@code host:port} so far. */
    public long tunnels(String hostPort) {
        AtomicLong n = tunnels.get(hostPort.toLowerCase(Locale.ROOT));
        return n == null ? 0 : n.get();
    }

    /** All tunnels opened so far, by target. */
    public Map<String, Long> tunnels() {
        Map<String, Long> out = new java.util.TreeMap<>();
        tunnels.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    /** Request lines refused (no route, or not CONNECT). */
    public List<String> refused() {
        return List.copyOf(refused);
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                sockets.add(client);
                threads.execute(() -> serve(client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try (client) {
            client.setSoTimeout(30_000);
            String head = readHead(client.getInputStream());
            String requestLine = head.split("\r\n", 2)[0];
            String[] parts = requestLine.split(" ");
            if (parts.length < 2 || !parts[0].equals("CONNECT")) {
                refused.add(requestLine);
                write(client, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            String target = parts[1].toLowerCase(Locale.ROOT);
            InetSocketAddress to = routes.get(target);
            if (to == null) {
                refused.add(requestLine);
                write(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            try (Socket upstream = new Socket()) {
                upstream.connect(to, 5_000);
                sockets.add(upstream);
                tunnels.computeIfAbsent(target, k -> new AtomicLong()).incrementAndGet();
                write(client, "HTTP/1.1 200 Connection established\r\n\r\n");
                client.setSoTimeout(0);
                threads.execute(() -> pipe(client, upstream));
                pipe(upstream, client);
            }
        } catch (IOException e) {
            // a side went away: the tunnel is over
        }
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

    private static void pipe(Socket from, Socket to) {
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            byte[] buf = new byte[65536];
            int n;
            while ((n = in.read(buf)) != -1) {
                out.write(buf, 0, n);
                out.flush();
            }
            to.shutdownOutput();
        } catch (IOException e) {
            // the other direction sees the close too
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        threads.shutdownNow();
    }
}
