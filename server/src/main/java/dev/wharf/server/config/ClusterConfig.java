package dev.wharf.server.config;

import java.net.URI;
import java.nio.file.Path;

/**
 * The {@code cluster} section: replicas that share one Redis are one cache with one upstream fetch per blob and one
 * upstream HEAD per tag per TTL (see docs/architecture.md, "Cluster").
 *
 * @param redisHost     Redis host ({@code cluster.redis.address})
 * @param redisPort     Redis port
 * @param redisPassword the password read from {@code cluster.redis.passwordFile}, or null; never logged
 * @param redisTls      true: talk TLS to Redis ({@code cluster.redis.tls})
 * @param redisCa       PEM CA bundle that signs Redis's certificate ({@code cluster.redis.caFile}), or null for the
 *                      JVM's trust store
 * @param listen        the internal replica-to-replica address ({@code cluster.listen})
 * @param advertise     how the other replicas reach this one's {@code listen} ({@code cluster.advertise})
 * @param secret        the shared secret every replica presents on the internal port ({@code cluster.secretFile});
 *                      never logged
 */
public record ClusterConfig(String redisHost, int redisPort, String redisPassword, boolean redisTls, Path redisCa,
                            HostPort listen, URI advertise, String secret) {
    @Override
    public String toString() {
        return "ClusterConfig[redis=" + redisHost + ":" + redisPort + (redisTls ? " (TLS)" : "") + ", listen=" + listen
                + ", advertise=" + advertise + "]";
    }
}
