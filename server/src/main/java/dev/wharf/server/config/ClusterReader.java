package dev.wharf.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Set;

/**
 * Reads the {@code cluster} section: {@code redis} ({@code address}, {@code passwordFile}, {@code tls},
 * {@code caFile}), {@code listen}, {@code advertise} ({@code ${VAR}} expanded from the environment) and
 * {@code secretFile}, all but the optional ones required.
 */
final class ClusterReader {
    private static final Set<String> CLUSTER_KEYS = Set.of("redis", "listen", "advertise", "secretFile");
    private static final Set<String> REDIS_KEYS = Set.of("address", "passwordFile", "tls", "caFile");

    private final ConfigReader values;

    ClusterReader(ConfigReader values) {
        this.values = values;
    }

    /** The {@code cluster} section of the top-level mapping, or null when absent (one replica on its own). */
    ClusterConfig cluster(ObjectNode top) {
        if (!top.has("cluster") || top.get("cluster").isNull()) {
            return null;
        }
        ObjectNode c = values.mapping(top.get("cluster"), "cluster", CLUSTER_KEYS);
        // Unknown keys first, in both mappings, so a typo is named before a missing key is.
        ObjectNode r = c.has("redis") ? values.mapping(c.get("redis"), "cluster.redis", REDIS_KEYS) : null;
        for (String required : new String[] {"redis", "listen", "advertise", "secretFile"}) {
            if (!c.has(required)) {
                throw values.fail("cluster." + required, "is required when cluster is set");
            }
        }
        if (!r.has("address")) {
            throw values.fail("cluster.redis.address", "is required");
        }
        HostPort redis = values.hostPort(r.get("address"), "cluster.redis.address");
        if (redis.port() == 0) {
            throw values.fail("cluster.redis.address", "needs a port");
        }
        String password = r.has("passwordFile") ? values.secret(r, "password", "passwordFile", "cluster.redis") : null;
        boolean tls = r.has("tls") && values.bool(r.get("tls"), "cluster.redis.tls");
        if (r.has("caFile") && !tls) {
            throw values.fail("cluster.redis.caFile", "is set but cluster.redis.tls is not true");
        }
        var ca = r.has("caFile") ? values.readableFile(r.get("caFile"), "cluster.redis.caFile") : null;
        HostPort listen = values.hostPort(c.get("listen"), "cluster.listen");
        // ${VAR} expands: the Helm chart advertises the pod IP from the downward API (POD_IP).
        URI advertise = advertise(values.expanded(c.get("advertise"), "cluster.advertise"));
        String secret = values.secret(c, "secret", "secretFile", "cluster");
        if (secret.length() < 16) {
            throw values.fail("cluster.secretFile", "must hold a secret of at least 16 characters");
        }
        return new ClusterConfig(redis.host(), redis.port(), password, tls, ca, listen, advertise, secret);
    }

    private URI advertise(String text) {
        try {
            URI uri = new URI(text);
            if (!"http".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() <= 0
                    || (uri.getPath() != null && !uri.getPath().isEmpty() && !uri.getPath().equals("/"))
                    || uri.getQuery() != null || uri.getUserInfo() != null) {
                throw values.fail("cluster.advertise", "must be http://HOST:PORT, got '" + text + "'");
            }
            return URI.create("http://" + uri.getRawAuthority());
        } catch (URISyntaxException e) {
            throw values.fail("cluster.advertise", "must be http://HOST:PORT, got '" + text + "'");
        }
    }
}
