package dev.wharf.server.cluster;

import dev.wharf.server.config.ClusterConfig;
import dev.wharf.server.logging.RateLimitedLog;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.SslOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.DefaultClientResources;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This replica's one connection to the cluster's Redis (Lettuce, asynchronous: no caller ever waits on Redis).
 *
 * <p>Down and back: commands fail at once while the connection is down ({@code REJECT_COMMANDS}) and time out after
 * {@link #COMMAND_TIMEOUT} when Redis hangs, so callers fall back to working alone. Lettuce reconnects an
 * established connection by itself (every {@link #RECONNECT}); a first connection that fails is retried on the
 * cluster's scheduler until it succeeds. {@link #up()} reads the connection's state: a volatile, never blocks.
 * The password is handed to Lettuce only, never logged.
 */
final class RedisLink implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RedisLink.class);
    /** A first connection that keeps failing (Redis down, a wrong password) is retried every 500 ms: rate-limited. */
    private static final RateLimitedLog CONNECT = new RateLimitedLog(LOG);
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);
    static final Duration RECONNECT = Duration.ofMillis(500);

    private final ClusterConfig config;
    private final ScheduledExecutorService scheduler;
    private final ClientResources resources;
    private final RedisClient client;
    private final RedisURI uri;
    private volatile StatefulRedisConnection<String, String> connection;
    private volatile boolean closed;
    private volatile boolean wasUp;

    RedisLink(ClusterConfig config, ScheduledExecutorService scheduler) {
        this.config = config;
        this.scheduler = scheduler;
        this.resources = DefaultClientResources.builder().ioThreadPoolSize(2).computationThreadPoolSize(2)
                .reconnectDelay(Delay.constant(RECONNECT)).build();
        RedisURI.Builder b = RedisURI.builder().withHost(config.redisHost()).withPort(config.redisPort())
                .withTimeout(COMMAND_TIMEOUT).withSsl(config.redisTls()).withVerifyPeer(config.redisTls());
        if (config.redisPassword() != null) {
            b.withPassword(config.redisPassword().toCharArray());
        }
        this.uri = b.build();
        this.client = RedisClient.create(resources, uri);
        ClientOptions.Builder options = ClientOptions.builder().autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(TimeoutOptions.enabled(COMMAND_TIMEOUT));
        if (config.redisCa() != null) {
            options.sslOptions(SslOptions.builder().jdkSslProvider().trustManager(config.redisCa().toFile()).build());
        }
        client.setOptions(options.build());
    }

    /** Starts connecting in the background; returns at once. */
    RedisLink start() {
        connect();
        scheduler.scheduleWithFixedDelay(this::watch, 1, 1, TimeUnit.SECONDS);
        return this;
    }

    private void connect() {
        if (closed) {
            return;
        }
        client.connectAsync(StringCodec.UTF8, uri).whenComplete((conn, err) -> {
            if (err != null) {
                // Lettuce's message says why (refused, WRONGPASS, a TLS failure); it never holds the password.
                CONNECT.warn("connect", "cannot connect to Redis at {}:{} ({}); this replica fills alone until it "
                        + "can", config.redisHost(), config.redisPort(), rootMessage(err));
                scheduler.schedule(this::connect, RECONNECT.toMillis(), TimeUnit.MILLISECONDS);
                return;
            }
            if (closed) {
                conn.closeAsync();
                return;
            }
            connection = conn;
        });
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c.getClass().getSimpleName() + ": " + c.getMessage();
    }

    /** Logs each change between up and down once. */
    private void watch() {
        boolean up = up();
        if (up != wasUp) {
            wasUp = up;
            if (up) {
                LOG.info("Redis at {}:{} reached: cluster-wide single fetch is on", config.redisHost(),
                        config.redisPort());
            } else {
                LOG.warn("Redis at {}:{} unreachable: each replica fills on its own until it is back",
                        config.redisHost(), config.redisPort());
            }
        }
    }

    /** True while the connection to Redis is established. */
    boolean up() {
        StatefulRedisConnection<String, String> c = connection;
        return c != null && c.isOpen();
    }

    /** Runs a Lua script; fails at once when Redis is down. */
    CompletableFuture<List<Object>> eval(String script, String[] keys, String... args) {
        StatefulRedisConnection<String, String> c = connection;
        if (c == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("Redis not connected"));
        }
        return c.async().<List<Object>>eval(script, ScriptOutputType.MULTI, keys, args).toCompletableFuture();
    }

    /** GET. */
    CompletableFuture<String> get(String key) {
        StatefulRedisConnection<String, String> c = connection;
        if (c == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("Redis not connected"));
        }
        return c.async().get(key).toCompletableFuture();
    }

    /** SET with a TTL; {@code ifAbsent}: NX. Completes with true if set. */
    CompletableFuture<Boolean> set(String key, String value, long ttlMillis, boolean ifAbsent) {
        StatefulRedisConnection<String, String> c = connection;
        if (c == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("Redis not connected"));
        }
        SetArgs args = SetArgs.Builder.px(ttlMillis);
        if (ifAbsent) {
            args.nx();
        }
        return c.async().set(key, value, args).toCompletableFuture().thenApply("OK"::equals);
    }

    @Override
    public void close() {
        closed = true;
        StatefulRedisConnection<String, String> c = connection;
        if (c != null) {
            c.close();
        }
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
}
