package dev.wharf.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A TCP hop on 127.0.0.1 in front of wharf that forwards bytes both ways unchanged and records the request line of
 * every HTTP/1.1 request a client sends through it: wharf's own request log, as seen on the wire. Only request
 * heads are parsed (bodies are skipped by their Content-Length), so it is exact for registry pulls, which send
 * GET and HEAD only.
 */
final class RequestLogHop implements AutoCloseable {
    /** One request line: method and request target (path and query, as sent). */
    record Request(String method, String target) {
        String path() {
            int q = target.indexOf('?');
            return q < 0 ? target : target.substring(0, q);
        }

        String query() {
            int q = target.indexOf('?');
            return q < 0 ? "" : target.substring(q + 1);
        }

        @Override
        public String toString() {
            return method + " " + target;
        }
    }

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "request-log-hop");
        t.setDaemon(true);
        return t;
    });
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    RequestLogHop(int targetPort) throws IOException {
        this.target = new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort);
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads.execute(this::acceptLoop);
    }

    int port() {
        return server.getLocalPort();
    }

    String url() {
        return "http://127.0.0.1:" + port();
    }

    /** Every request line seen so far, oldest first. */
    List<Request> requests() {
        return new ArrayList<>(requests);
    }

    /** Forgets the requests seen so far. */
    void clear() {
        requests.clear();
    }

    /** Requests with this method (null for any) whose target contains {@code substring}. */
    long count(String method, String substring) {
        return requests.stream()
                .filter(r -> method == null || r.method().equalsIgnoreCase(method))
                .filter(r -> r.target().contains(substring))
                .count();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket();
                upstream.connect(target, 5_000);
                sockets.add(client);
                sockets.add(upstream);
                threads.execute(() -> pumpRequests(client, upstream));
                threads.execute(() -> pump(upstream, client));
            } catch (IOException e) {
                if (server.isClosed()) {
                    return;
                }
            }
        }
    }

    /** Client to server: forwards every byte and parses request heads on the way. */
    private void pumpRequests(Socket from, Socket to) {
        byte[] buf = new byte[16 * 1024];
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        long bodyToSkip = 0;
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                for (int i = 0; i < n; i++) {
                    if (bodyToSkip > 0) {
                        bodyToSkip--;
                        continue;
                    }
                    head.write(buf[i]);
                    int size = head.size();
                    if (buf[i] != '\n') {
                        continue;
                    }
                    byte[] h = head.toByteArray();
                    if (size == 2 && h[0] == '\r') {
                        head.reset(); // a stray CRLF between requests
                    } else if (size >= 4 && h[size - 2] == '\r' && h[size - 3] == '\n' && h[size - 4] == '\r') {
                        bodyToSkip = record(new String(h, StandardCharsets.ISO_8859_1));
                        head.reset();
                    }
                }
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException ignored) {
            // one side closed: close the other
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    /** Records the request line; returns the Content-Length of the body that follows (0 if none). */
    private long record(String head) {
        String[] lines = head.split("\r\n");
        String[] parts = lines[0].split(" ");
        if (parts.length >= 2) {
            requests.add(new Request(parts[0], parts[1]));
        }
        for (String line : lines) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                try {
                    return Long.parseLong(line.substring(15).trim());
                } catch (NumberFormatException e) {
                    return 0;
                }
            }
        }
        return 0;
    }

    private static void pump(Socket from, Socket to) {
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException ignored) {
            // one side closed: close the other
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        sockets.forEach(RequestLogHop::closeQuietly);
        threads.shutdownNow();
    }
}
