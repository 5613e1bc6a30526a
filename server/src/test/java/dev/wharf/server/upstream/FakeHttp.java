package dev.wharf.server.upstream;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * In-process fake upstreams for what the real registry cannot produce here (token servers, redirects to other
 * hosts, broken connections). {@link #http} is a JDK HttpServer; {@link Raw} is a bare socket server that
 * writes whatever bytes a test wants, for broken responses no HTTP server library would send.
 */
final class FakeHttp implements AutoCloseable {
    final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();
    final List<Seen> seen = new CopyOnWriteArrayList<>();

    /** One request as the fake saw it. */
    record Seen(String method, String path, String query, String authorization, String userAgent, String accept,
            String acceptEncoding, String host) {
    }

    private FakeHttp(String bindAddress) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getByName(bindAddress), 0), 0);
        server.setExecutor(executor);
        server.start();
    }

    static FakeHttp http() throws IOException {
        return new FakeHttp("127.0.0.1");
    }

    static FakeHttp http(String bindAddress) throws IOException {
        return new FakeHttp(bindAddress);
    }

    String base() {
        return "http://" + server.getAddress().getAddress().getHostAddress() + ":" + server.getAddress().getPort();
    }

    int port() {
        return server.getAddress().getPort();
    }

    /** Adds a context; every request is recorded before the handler runs. */
    FakeHttp on(String path, HttpHandler handler) {
        server.createContext(path, ex -> {
            seen.add(new Seen(ex.getRequestMethod(), ex.getRequestURI().getRawPath(), ex.getRequestURI().getRawQuery(),
                    ex.getRequestHeaders().getFirst("Authorization"), ex.getRequestHeaders().getFirst("User-Agent"),
                    ex.getRequestHeaders().getFirst("Accept"), ex.getRequestHeaders().getFirst("Accept-Encoding"),
                    ex.getRequestHeaders().getFirst("Host")));
            try (InputStream in = ex.getRequestBody()) {
                in.readAllBytes();
            }
            handler.handle(ex);
        });
        return this;
    }

    long count(String pathPrefix) {
        return seen.stream().filter(s -> s.path().startsWith(pathPrefix)).count();
    }

    static void respond(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().set("Content-Length", String.valueOf(b.length));
            ex.sendResponseHeaders(status, -1);
        } else {
            ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(b);
            }
        }
        ex.close();
    }

    static void redirect(HttpExchange ex, int status, String location) throws IOException {
        ex.getResponseHeaders().set("Location", location);
        ex.sendResponseHeaders(status, -1);
        ex.close();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    /** A socket server: each accepted connection's request head is read, then {@code script} writes and closes. */
    static final class Raw implements AutoCloseable {
        final ServerSocket socket;
        private final Thread thread;
        final List<String> requestHeads = new CopyOnWriteArrayList<>();

        Raw(Consumer<Socket> script) throws IOException {
            socket = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
            thread = new Thread(() -> {
                while (!socket.isClosed()) {
                    try {
                        Socket s = socket.accept();
                        Thread t = new Thread(() -> {
                            try (s) {
                                requestHeads.add(readHead(s.getInputStream()));
                                script.accept(s);
                            } catch (IOException e) {
                                // the client went away: fine for a fake
                            }
                        });
                        t.setDaemon(true);
                        t.start();
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "raw-fake");
            thread.setDaemon(true);
            thread.start();
        }

        String base() {
            return "http://127.0.0.1:" + socket.getLocalPort();
        }

        static String readHead(InputStream in) throws IOException {
            StringBuilder b = new StringBuilder();
            int c;
            while ((c = in.read()) != -1) {
                b.append((char) c);
                if (b.length() >= 4 && b.substring(b.length() - 4).equals("\r\n\r\n")) {
                    break;
                }
            }
            return b.toString();
        }

        static void write(Socket s, String text) {
            try {
                s.getOutputStream().write(text.getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
