package dev.wharf.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/**
 * A real CNCF distribution registry (Debian's {@code docker-registry}, 2.8) on 127.0.0.1 with its own
 * temp config and storage: the upstream that wharf proxies in tests.
 *
 * <p>Requests are counted from the registry's access log. distribution 2.8 writes two lines per request:
 * a logrus line ({@code msg="response completed"} or {@code "response completed with error"}, with
 * {@code http.request.method=} and {@code http.request.uri=} quoted only when the value needs it), and an
 * Apache combined-log line from gorilla/handlers:
 * <pre>127.0.0.1 - - [21/Nov/2026:23:50:01 +0000] "GET /v2/foo/manifests/latest HTTP/1.1" 200 2 "" "curl/7.88.1"</pre>
 * The Apache line is written once for every request, whatever its outcome (401s and 404s included), and its
 * format is fixed, so that is the one parsed here.
 */
public final class DistributionRegistry implements AutoCloseable {
    private static final Pattern ACCESS_LINE = Pattern.compile(
            "^(\\S+) \\S+ \\S+ \\[([^\\]]+)\\] \"(\\S+) (\\S+) ([^\"]*)\" (\\d{3}) (\\d+|-) \"([^\"]*)\" \"([^\"]*)\"");
    private static final String SYNC_PARAM = "wharf-log-sync=";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    private final Builder settings;
    private final Path dir;
    private final Path storage;
    private final Path config;
    private final Path logFile;
    private final int port;
    private final HttpClient http;
    private final AtomicLong syncCounter = new AtomicLong();
    private ChildProcess process;

    /** One request the registry logged. {@code uri} is the request URI as sent, query included. */
    public record Request(String remoteAddr, String time, String method, String uri, String protocol, int status,
            long bytes, String referer, String userAgent) {
        /** The URI without its query string. */
        public String path() {
            int q = uri.indexOf('?');
            return q < 0 ? uri : uri.substring(0, q);
        }
    }

    private DistributionRegistry(Builder settings) throws IOException {
        this.settings = settings;
        this.dir = Files.createTempDirectory("wharf-registry");
        this.storage = Files.createDirectories(dir.resolve("storage"));
        this.config = dir.resolve("config.yml");
        this.logFile = dir.resolve("registry.log");
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2))
                .sslContext(trustAll())
                .build();
        int chosen = -1;
        AssertionError last = null;
        for (int attempt = 0; attempt < 3 && chosen < 0; attempt++) {
            int candidate = Ports.free();
            try {
                launch(candidate);
                chosen = candidate;
            } catch (AssertionError e) {
                // Most likely someone took the port between Ports.free() and the bind: try another.
                last = e;
                if (process != null && process.isAlive()) {
                    process.kill();
                }
            }
        }
        if (chosen < 0) {
            ChildProcess.deleteTree(dir);
            throw last;
        }
        this.port = chosen;
    }

    /** Starts a plain registry (no proxy, no auth) with default settings. */
    public static DistributionRegistry start() {
        return builder().start();
    }

    /** Settings for a registry to start. */
    public static Builder builder() {
        return new Builder();
    }

    /** Options for {@link DistributionRegistry}; call {@link #start()} last. */
    public static final class Builder {
        private URI proxyRemote;
        private String proxyUser;
        private String proxyPassword;
        private final Map<String, String> users = new LinkedHashMap<>();
        private Path tlsCertificate;
        private Path tlsKey;
        private boolean deleteEnabled = true;
        private String extraYaml = "";

        private Builder() {
        }

        /** Pull-through cache mode: {@code proxy: remoteurl: <remote>}. Pushes are then refused. */
        public Builder proxy(URI remote) {
            this.proxyRemote = remote;
            return this;
        }

        /** Credentials the proxy sends to its remote ({@code proxy.username}/{@code proxy.password}). */
        public Builder proxyCredentials(String user, String password) {
            this.proxyUser = user;
            this.proxyPassword = password;
            return this;
        }

        /**
         * Requires HTTP basic auth from clients ({@code auth.htpasswd}); may be called several times. The
         * password is stored bcrypt-hashed, as distribution demands.
         */
        public Builder htpasswdUser(String user, String password) {
            users.put(user, password);
            return this;
        }

        /** Serves HTTPS with this PEM certificate and key ({@code http.tls}). */
        public Builder tls(Path certificatePem, Path keyPem) {
            this.tlsCertificate = certificatePem;
            this.tlsKey = keyPem;
            return this;
        }

        /** Whether DELETE is allowed ({@code storage.delete.enabled}); default true. */
        public Builder deleteEnabled(boolean enabled) {
            this.deleteEnabled = enabled;
            return this;
        }

        /** Top-level YAML appended verbatim to the generated config, for settings this builder lacks. */
        public Builder extraYaml(String yaml) {
            this.extraYaml = yaml;
            return this;
        }

        /** Starts the registry and waits (at most 30 s) until it answers {@code GET /v2/}. */
        public DistributionRegistry start() {
            Tools.require("docker-registry");
            try {
                return new DistributionRegistry(this);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private void launch(int candidatePort) {
        try {
            Files.writeString(config, configYaml(candidatePort), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path binary = Tools.require("docker-registry");
        process = ChildProcess.start(List.of(binary.toString(), "serve", config.toString()), logFile, Map.of(), dir);
        URI base = URI.create(scheme() + "://127.0.0.1:" + candidatePort + "/v2/");
        process.awaitReady("docker-registry on port " + candidatePort, START_TIMEOUT, () -> answers(base));
    }

    private boolean answers(URI uri) {
        try {
            HttpResponse<Void> response = http.send(
                    HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(2)).GET().build(),
                    HttpResponse.BodyHandlers.discarding());
            // 401 is an answer too: the registry is up and wants credentials.
            return response.statusCode() == 200 || response.statusCode() == 401;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private String configYaml(int listenPort) throws IOException {
        StringBuilder yaml = new StringBuilder();
        yaml.append("version: 0.1\n")
                .append("log:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: false\n")
                .append("storage:\n  filesystem:\n    rootdirectory: ").append(quote(storage.toString())).append('\n')
                .append("  delete:\n    enabled: ").append(settings.deleteEnabled).append('\n')
                .append("  maintenance:\n    uploadpurging:\n      enabled: false\n")
                .append("http:\n  addr: 127.0.0.1:").append(listenPort).append('\n')
                .append("  secret: wharf-test-secret\n")
                .append("  headers:\n    X-Content-Type-Options: [nosniff]\n");
        if (settings.tlsCertificate != null) {
            yaml.append("  tls:\n    certificate: ").append(quote(settings.tlsCertificate.toString()))
                    .append("\n    key: ").append(quote(settings.tlsKey.toString())).append('\n');
        }
        if (settings.proxyRemote != null) {
            yaml.append("proxy:\n  remoteurl: ").append(quote(settings.proxyRemote.toString())).append('\n');
            if (settings.proxyUser != null) {
                yaml.append("  username: ").append(quote(settings.proxyUser)).append('\n')
                        .append("  password: ").append(quote(settings.proxyPassword)).append('\n');
            }
        }
        if (!settings.users.isEmpty()) {
            Path htpasswd = writeHtpasswd();
            yaml.append("auth:\n  htpasswd:\n    realm: wharf-test\n    path: ").append(quote(htpasswd.toString()))
                    .append('\n');
        }
        yaml.append(settings.extraYaml);
        return yaml.toString();
    }

    /** Writes {@code htpasswd} beside the config from the users' passwords (bcrypt, as distribution demands). */
    private Path writeHtpasswd() throws IOException {
        Path htpasswd = dir.resolve("htpasswd");
        StringBuilder lines = new StringBuilder();
        SecureRandom random = new SecureRandom();
        for (Map.Entry<String, String> user : settings.users.entrySet()) {
            byte[] salt = new byte[16];
            random.nextBytes(salt);
            // Cost 5 keeps each login check fast; this file only guards a test registry.
            lines.append(user.getKey()).append(':')
                    .append(OpenBSDBCrypt.generate("2y", user.getValue().toCharArray(), salt, 5)).append('\n');
        }
        // Written aside and renamed: the running registry must never read a half-written file.
        Path next = dir.resolve("htpasswd.next");
        Files.writeString(next, lines.toString(), StandardCharsets.UTF_8);
        Files.move(next, htpasswd, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return htpasswd;
    }

    /**
     * Changes {@code user}'s password while the registry runs (a registry started with
     * {@link Builder#htpasswdUser}): distribution re-reads its htpasswd file when the file changes. Waits (at most
     * 10 s) until the registry accepts the new password; the old one is refused from then on.
     */
    public void changeHtpasswdPassword(String user, String password) {
        if (settings.users.isEmpty()) {
            throw new IllegalStateException("the registry was started without htpasswd users");
        }
        settings.users.put(user, password);
        try {
            writeHtpasswd();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String basic = "Basic " + java.util.Base64.getEncoder().encodeToString(
                (user + ":" + password).getBytes(StandardCharsets.UTF_8));
        URI ping = URI.create(url() + "/v2/");
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<Void> r = http.send(HttpRequest.newBuilder(ping).timeout(Duration.ofSeconds(2))
                        .header("Authorization", basic).GET().build(), HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not answering yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
            ChildProcess.sleep(50);
        }
        throw new AssertionError("the registry did not take the new htpasswd password of " + user + " within 10 s");
    }

    private static String quote(String value) {
        return '"' + value.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    private String scheme() {
        return settings.tlsCertificate != null ? "https" : "http";
    }

    /** {@code 127.0.0.1:PORT}, as image references and hosts.toml want it. */
    public String hostPort() {
        return "127.0.0.1:" + port;
    }

    /** The port the registry listens on. */
    public int port() {
        return port;
    }

    /** {@code http://127.0.0.1:PORT} (https with TLS), without a trailing slash. */
    public URI url() {
        return URI.create(scheme() + "://" + hostPort());
    }

    /** The registry's PID. */
    public long pid() {
        return process.pid();
    }

    /** Where the registry keeps its content. */
    public Path storageDir() {
        return storage;
    }

    /** The registry's log: its own logrus lines and the access log, stdout and stderr together. */
    public Path logFile() {
        return logFile;
    }

    /** The generated config file. */
    public Path configFile() {
        return config;
    }

    /**
     * All requests logged so far, oldest first, without the fixture's own log-sync requests. Waits first
     * until a request made now has been logged, so requests already answered are in the list.
     */
    public List<Request> requests() {
        syncLog();
        return parseLog();
    }

    /**
     * How many logged requests had this method (case-insensitive; null or "*" for any) and a URI containing
     * {@code pathSubstring} (query included). Requests answered before this call are counted.
     */
    public long countRequests(String method, String pathSubstring) {
        return requests().stream()
                .filter(r -> method == null || method.equals("*") || r.method().equalsIgnoreCase(method))
                .filter(r -> r.uri().contains(pathSubstring))
                .count();
    }

    /**
     * Makes the access log catch up: sends {@code GET /v2/?wharf-log-sync=N} and waits (at most 5 s) until
     * its line appears. distribution writes a request's line after its response, so a client can see the
     * response a moment before the line is written; a request answered before the sync request was sent has
     * in practice been logged by the time the sync request's line is.
     */
    public void syncLog() {
        if (process == null || !process.isAlive()) {
            return;
        }
        String marker = SYNC_PARAM + syncCounter.incrementAndGet();
        URI uri = URI.create(url() + "/v2/?" + marker);
        try {
            http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).GET().build(),
                    HttpResponse.BodyHandlers.discarding());
        } catch (IOException e) {
            throw new UncheckedIOException("registry did not answer the log sync request", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (Files.readString(logFile, StandardCharsets.UTF_8).contains(marker + " ")) {
                    return;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            ChildProcess.sleep(10);
        }
        throw new AssertionError("log sync request " + marker + " never appeared in " + logFile);
    }

    private List<Request> parseLog() {
        List<Request> requests = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(logFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (String line : lines) {
            Matcher m = ACCESS_LINE.matcher(line);
            if (!m.find() || m.group(4).contains(SYNC_PARAM)) {
                continue;
            }
            requests.add(new Request(m.group(1), m.group(2), m.group(3), m.group(4), m.group(5),
                    Integer.parseInt(m.group(6)), m.group(7).equals("-") ? 0 : Long.parseLong(m.group(7)),
                    m.group(8), m.group(9)));
        }
        return requests;
    }

    /**
     * Stops the registry (SIGTERM, then SIGKILL after 10 s) but keeps its storage, config and log, so a test
     * can simulate an upstream outage and {@link #restart()} it later.
     */
    public void stop() {
        if (process != null && process.isAlive()) {
            process.stop(Duration.ofSeconds(10));
        }
    }

    /** Kills the registry with SIGKILL, keeping storage, config and log. */
    public void kill() {
        if (process != null && process.isAlive()) {
            process.kill();
        }
    }

    /** Starts the registry again after {@link #stop()}, on the same port with the same storage. */
    public void restart() {
        stop();
        launch(port);
    }

    /** Stops the registry by PID and deletes its temp directory (config, storage, log). */
    @Override
    public void close() {
        try {
            stop();
        } finally {
            ChildProcess.deleteTree(dir);
        }
    }

    private static SSLContext trustAll() {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }}, new SecureRandom());
            return context;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return "DistributionRegistry[" + url() + (settings.proxyRemote != null ? " proxy " + settings.proxyRemote : "")
                + ", pid " + (process == null ? "-" : process.pid()) + "]";
    }
}
