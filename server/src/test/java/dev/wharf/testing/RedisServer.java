package dev.wharf.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Debian's real {@code redis-server} on 127.0.0.1 and a free port, with a config of its own in a temp directory
 * (no persistence, no password unless given), stopped by its PID. {@link #stop()} and {@link #restart()} on the
 * same port let a test take Redis away mid-run and bring it back. Fails, naming the tool, when it is not installed.
 */
public final class RedisServer implements AutoCloseable {
    private final Path dir;
    private final int port;
    private final Path binary;
    private ChildProcess process;

    private RedisServer(Path dir, int port, Path binary) {
        this.dir = dir;
        this.port = port;
        this.binary = binary;
    }

    /** Starts a fresh Redis. */
    public static RedisServer start() {
        return start(null);
    }

    /** Starts a fresh Redis that demands {@code password} (AUTH), or none when null. */
    public static RedisServer start(String password) {
        return launchWith(port -> List.of("port " + port, "protected-mode yes",
                password == null ? "" : "requirepass " + password));
    }

    /**
     * Starts a fresh Redis that listens on TLS only ({@code port 0}, {@code tls-port}) with the server certificate
     * {@code certPem}/{@code keyPem}; {@code caPem} is the CA Redis requires to be configured (clients are not asked
     * for certificates).
     */
    public static RedisServer startTls(Path certPem, Path keyPem, Path caPem) {
        return launchWith(port -> List.of("port 0", "tls-port " + port, "tls-cert-file " + certPem,
                "tls-key-file " + keyPem, "tls-ca-cert-file " + caPem, "tls-auth-clients no"));
    }

    /** A fresh Redis in a temp directory, no persistence, on a free port; {@code listen} gives its listening lines. */
    private static RedisServer launchWith(java.util.function.IntFunction<List<String>> listen) {
        Path binary = Tools.require("redis-server");
        try {
            Path dir = Files.createTempDirectory("wharf-redis");
            RedisServer r = new RedisServer(dir, Ports.free(), binary);
            List<String> conf = new java.util.ArrayList<>(List.of("bind 127.0.0.1"));
            conf.addAll(listen.apply(r.port));
            conf.addAll(List.of("dir " + dir, "save \"\"", "appendonly no", "daemonize no", ""));
            Files.writeString(dir.resolve("redis.conf"), String.join("\n", conf), StandardCharsets.UTF_8);
            r.launch();
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void launch() {
        process = ChildProcess.start(List.of(binary.toString(), dir.resolve("redis.conf").toString()),
                dir.resolve("redis.log"), Map.of(), dir);
        process.awaitReady("redis-server on port " + port, Duration.ofSeconds(20), () -> Ports.accepting(port));
    }

    /** {@code host:port}, as {@code cluster.redis.address} takes it. */
    public String address() {
        return "127.0.0.1:" + port;
    }

    /** Stops Redis (SIGTERM, by PID); its data is gone (no persistence). */
    public void stop() {
        if (process != null) {
            process.stop(Duration.ofSeconds(10));
            process = null;
        }
    }

    /** Starts Redis again on the same port, empty. */
    public void restart() {
        stop();
        launch();
    }

    @Override
    public void close() {
        stop();
        ChildProcess.deleteTree(dir);
    }
}
