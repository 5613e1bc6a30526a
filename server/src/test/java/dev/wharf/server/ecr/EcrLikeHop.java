package dev.wharf.server.ecr;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP hop on 127.0.0.1 in front of a real registry that rejects stale credentials the way ECR does.
 *
 * <p>Why: distribution's htpasswd auth answers a wrong password with 401 and a Basic challenge, while ECR answers an
 * expired token with 403 and a plain-text body ({@code Your authorization token has expired. Reauthenticate and try
 * again.}), and that 403 is the path under test. So the hop turns a 401 to a request that carried credentials into
 * that 403; a 401 to a request without credentials (the challenge, as ECR sends it too) and every other answer pass
 * unchanged, bodies streamed. The registry still decides which password is valid.
 */
final class EcrLikeHop implements AutoCloseable {
    static final String EXPIRED_BODY = "Your authorization token has expired. Reauthenticate and try again.";
    /** Not forwarded either way: hop-by-hop, or set by the JDK client or server themselves. */
    private static final Set<String> SKIPPED = Set.of("host", "connection", "content-length", "expect", "upgrade",
            "keep-alive", "te", "trailer", "transfer-encoding", "date", "proxy-connection");

    private final URI target;
    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    /** 403s answered for rejected credentials. */
    final AtomicInteger expiredAnswers = new AtomicInteger();
    /** Requests forwarded with credentials the registry accepted. */
    final AtomicInteger authorized = new AtomicInteger();

    EcrLikeHop(URI target) throws IOException {
        this.target = target;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(executor);
        server.createContext("/", this::forward);
        server.start();
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    private void forward(HttpExchange ex) throws IOException {
        try (ex) {
            String method = ex.getRequestMethod();
            ex.getRequestBody().readAllBytes();
            URI uri = URI.create(target + ex.getRequestURI().getRawPath()
                    + (ex.getRequestURI().getRawQuery() == null ? "" : "?" + ex.getRequestURI().getRawQuery()));
            HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60))
                    .method(method, HttpRequest.BodyPublishers.noBody());
            for (Map.Entry<String, List<String>> h : ex.getRequestHeaders().entrySet()) {
                if (!SKIPPED.contains(h.getKey().toLowerCase(Locale.ROOT))) {
                    h.getValue().forEach(v -> b.header(h.getKey(), v));
                }
            }
            boolean withCredentials = ex.getRequestHeaders().containsKey("Authorization");
            HttpResponse<InputStream> r;
            try {
                r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            try (InputStream body = r.body()) {
                if (r.statusCode() == 401 && withCredentials) {
                    expiredAnswers.incrementAndGet();
                    byte[] text = EXPIRED_BODY.getBytes(StandardCharsets.UTF_8);
                    ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
                    ex.sendResponseHeaders(403, text.length);
                    ex.getResponseBody().write(text);
                    return;
                }
                if (withCredentials && r.statusCode() < 400) {
                    authorized.incrementAndGet();
                }
                r.headers().map().forEach((name, values) -> {
                    if (!SKIPPED.contains(name.toLowerCase(Locale.ROOT)) && !name.startsWith(":")) {
                        values.forEach(v -> ex.getResponseHeaders().add(name, v));
                    }
                });
                long length = r.headers().firstValueAsLong("content-length").orElse(-1);
                int status = r.statusCode();
                if (method.equals("HEAD") || status == 204 || status == 304) {
                    if (length >= 0) {
                        ex.getResponseHeaders().set("Content-Length", Long.toString(length));
                    }
                    ex.sendResponseHeaders(status, -1);
                    return;
                }
                // JDK HttpServer: -1 means no body, 0 means chunked.
                ex.sendResponseHeaders(status, length == 0 ? -1 : length < 0 ? 0 : length);
                try (OutputStream out = ex.getResponseBody()) {
                    body.transferTo(out);
                }
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
