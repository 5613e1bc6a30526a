package dev.wharf.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wharf.storage.s3.S3Settings;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * Reads the sections that say how the server runs rather than what it proxies: {@code storage} (where the
 * store lives and the bounds on its disk use), {@code retention}, {@code admin}, {@code accessLog} and
 * {@code egress}. Every section is optional; a missing key keeps its default.
 *
 * <p>Each section is one block with its own set of known keys; a new operations section lands as one more
 * block here, or as a reader of its own once it grows. Values are read through {@link ConfigReader}, which
 * names the key and the file in every error.
 */
final class OperationsReader {
    private static final Set<String> STORAGE_KEYS = Set.of("path", "maxSize", "highWatermark", "lowWatermark", "s3");
    private static final Set<String> S3_KEYS = Set.of("endpoint", "bucket", "region", "pathStyle", "prefix",
            "accessKey", "secretKey", "secretKeyFile", "redirect");
    private static final Set<String> RETENTION_KEYS = Set.of("unusedFor");
    private static final Set<String> ADMIN_KEYS = Set.of("listen", "token", "tokenFile");
    private static final Set<String> ACCESS_LOG_KEYS = Set.of("enabled", "path", "level");
    private static final Set<String> EGRESS_KEYS = Set.of("proxy", "noProxy");

    /** What the {@code storage} section says. */
    record Storage(Path path, long maxSize, double highWatermark, double lowWatermark, S3Settings s3) {
    }

    private final ConfigReader values;

    OperationsReader(ConfigReader values) {
        this.values = values;
    }

    /** The {@code storage} section of the top-level mapping, or the defaults when it is absent. */
    Storage storage(ObjectNode top) {
        Path path = Path.of("./data");
        long maxSize = 0;
        double high = OperationsConfig.DEFAULTS.highWatermark();
        double low = OperationsConfig.DEFAULTS.lowWatermark();
        S3Settings s3 = null;
        if (top.has("storage")) {
            ObjectNode s = values.mapping(top.get("storage"), "storage", STORAGE_KEYS);
            if (s.has("path")) {
                String p = values.string(s.get("path"), "storage.path");
                if (p.isBlank()) {
                    throw values.fail("storage.path", "must not be empty");
                }
                path = Path.of(p);
            }
            if (s.has("maxSize")) {
                maxSize = values.size(s.get("maxSize"), "storage.maxSize");
            }
            if (s.has("highWatermark")) {
                high = values.fraction(s.get("highWatermark"), "storage.highWatermark");
            }
            if (s.has("lowWatermark")) {
                low = values.fraction(s.get("lowWatermark"), "storage.lowWatermark");
            }
            if (s.has("s3")) {
                s3 = s3(values.mapping(s.get("s3"), "storage.s3", S3_KEYS));
            }
            if (low >= high) {
                throw values.fail("storage.lowWatermark", "must be below storage.highWatermark (" + high + ")");
            }
        }
        return new Storage(path, maxSize, high, low, s3);
    }

    /** {@code storage.s3}: the bucket behind the hot tier (docs/configuration.md). */
    private S3Settings s3(ObjectNode s) {
        if (!s.has("bucket")) {
            throw values.fail("storage.s3.bucket", "is required");
        }
        String bucket = values.string(s.get("bucket"), "storage.s3.bucket");
        if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
            throw values.fail("storage.s3.bucket", "must be an S3 bucket name (3 to 63 of [a-z0-9.-])");
        }
        URI endpoint = null;
        if (s.has("endpoint")) {
            endpoint = values.url(values.expanded(s.get("endpoint"), "storage.s3.endpoint"), "storage.s3.endpoint");
        }
        String region = s.has("region") ? values.string(s.get("region"), "storage.s3.region") : "us-east-1";
        if (!region.matches("[a-z0-9-]{1,64}")) {
            throw values.fail("storage.s3.region", "must be a region name such as us-east-1");
        }
        boolean pathStyle = s.has("pathStyle") && values.bool(s.get("pathStyle"), "storage.s3.pathStyle");
        String prefix = s.has("prefix") ? values.string(s.get("prefix"), "storage.s3.prefix") : "";
        try {
            S3Settings.checkPrefix(prefix);
        } catch (IllegalArgumentException e) {
            throw values.fail("storage.s3.prefix", "must be empty or path segments of [A-Za-z0-9._-] each ending in"
                    + " '/', such as prod/: " + e.getMessage());
        }
        String accessKey = s.has("accessKey") ? values.expanded(s.get("accessKey"), "storage.s3.accessKey") : null;
        String secret = values.secret(s, "secretKey", "secretKeyFile", "storage.s3");
        if ((accessKey == null) != (secret == null)) {
            throw values.fail(accessKey == null ? "storage.s3.accessKey" : "storage.s3.secretKeyFile",
                    "accessKey and secretKeyFile (or secretKey) go together; leave both out for the SDK's default"
                            + " credential chain");
        }
        boolean redirect = s.has("redirect") && values.bool(s.get("redirect"), "storage.s3.redirect");
        return new S3Settings(endpoint, bucket, region, pathStyle, prefix, accessKey, secret, redirect);
    }

    /** The operations settings: the storage bounds, then the {@code retention} to {@code egress} sections. */
    OperationsConfig operations(ObjectNode top, Storage storage) {
        Duration unusedFor = null;
        if (top.has("retention")) {
            ObjectNode r = values.mapping(top.get("retention"), "retention", RETENTION_KEYS);
            if (r.has("unusedFor")) {
                unusedFor = values.duration(r.get("unusedFor"), "retention.unusedFor");
                if (unusedFor.isZero()) {
                    throw values.fail("retention.unusedFor", "must be longer than 0");
                }
            }
        }
        HostPort adminListen = null;
        String adminToken = null;
        if (top.has("admin")) {
            ObjectNode a = values.mapping(top.get("admin"), "admin", ADMIN_KEYS);
            if (a.has("listen") && !"registry".equals(a.get("listen").asText())) {
                adminListen = values.hostPort(a.get("listen"), "admin.listen");
            }
            adminToken = values.secret(a, "token", "tokenFile", "admin");
            if (adminToken != null && adminToken.length() < 16) {
                throw values.fail("admin.token", "must be at least 16 characters");
            }
        }
        boolean accessLog = true;
        String accessLogPath = "stdout";
        String accessLogLevel = "info";
        if (top.has("accessLog")) {
            ObjectNode l = values.mapping(top.get("accessLog"), "accessLog", ACCESS_LOG_KEYS);
            if (l.has("enabled")) {
                accessLog = values.bool(l.get("enabled"), "accessLog.enabled");
            }
            if (l.has("path")) {
                accessLogPath = values.string(l.get("path"), "accessLog.path");
                if (accessLogPath.isBlank()) {
                    throw values.fail("accessLog.path", "must be stdout, stderr or a file path");
                }
            }
            if (l.has("level")) {
                accessLogLevel = values.string(l.get("level"), "accessLog.level");
                if (!Set.of("info", "warn", "error").contains(accessLogLevel)) {
                    throw values.fail("accessLog.level", "must be info, warn or error, got '" + accessLogLevel + "'");
                }
            }
        }
        String egressProxy = null;
        List<String> noProxy = null;
        if (top.has("egress")) {
            ObjectNode e = values.mapping(top.get("egress"), "egress", EGRESS_KEYS);
            if (e.has("proxy")) {
                egressProxy = values.url(values.expanded(e.get("proxy"), "egress.proxy"), "egress.proxy").toString();
            }
            if (e.has("noProxy")) {
                noProxy = values.stringList(e.get("noProxy"), "egress.noProxy");
            }
        }
        return new OperationsConfig(storage.maxSize(), storage.highWatermark(), storage.lowWatermark(), unusedFor,
                adminListen, adminToken, accessLog, accessLogPath, accessLogLevel, egressProxy, noProxy);
    }
}
