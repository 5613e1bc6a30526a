package dev.wharf.testing;

import dev.wharf.server.app.WharfServer;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.server.config.WharfConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/** wharf started inside the test JVM on 127.0.0.1 with a port chosen by the OS, from a YAML config. */
public final class InProcessWharf implements AutoCloseable {
    private final WharfServer server;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private InProcessWharf(WharfServer server) {
        this.server = server;
    }

    /**
     * Starts wharf with {@code projectsYaml} (the {@code projects:} list and optionally {@code defaultProject:}, as
     * YAML text) and storage under {@code storage}.
     */
    public static InProcessWharf start(Path storage, String projectsYaml) throws Exception {
        return start("listen: 127.0.0.1:0\nstorage:\n  path: " + storage + "\n" + projectsYaml);
    }

    /** Starts wharf with {@code config} and storage under {@code storage}, on a port the OS picks. */
    public static InProcessWharf start(Path storage, WharfYaml config) throws Exception {
        return start(config.storage(storage));
    }

    /** Starts wharf with {@code config}, on 127.0.0.1 and a port the OS picks unless the config sets listen. */
    public static InProcessWharf start(WharfYaml config) throws Exception {
        if (!config.hasListen()) {
            config.listen("127.0.0.1:0");
        }
        return start(config.toString());
    }

    private static InProcessWharf start(String yaml) throws Exception {
        WharfConfig config = ConfigLoader.parse(yaml, "test config");
        return new InProcessWharf(new WharfServer(config).start());
    }

    /** The running server (its admin port, its metrics). */
    public WharfServer server() {
        return server;
    }

    public URI url() {
        return URI.create("http://127.0.0.1:" + server.port());
    }

    public String hostPort() {
        return "127.0.0.1:" + server.port();
    }

    public HttpResponse<byte[]> get(String pathAndQuery, String... headers) throws IOException, InterruptedException {
        return send("GET", pathAndQuery, headers);
    }

    public HttpResponse<byte[]> head(String pathAndQuery, String... headers) throws IOException, InterruptedException {
        return send("HEAD", pathAndQuery, headers);
    }

    public HttpResponse<byte[]> send(String method, String pathAndQuery, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(url().resolve(pathAndQuery)).timeout(Duration.ofSeconds(60))
                .method(method, HttpRequest.BodyPublishers.noBody());
        for (int i = 0; i + 1 < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /**
     * Sends a request line exactly as given (no client-side path normalisation, which would hide {@code ..}) and
     * returns the raw response head and body as text.
     */
    public String raw(String method, String rawPath) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write((method + " " + rawPath + " HTTP/1.1\r\nHost: " + hostPort() + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Override
    public void close() {
        server.close();
    }
}
