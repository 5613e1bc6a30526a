package dev.wharf.server.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The operational settings (issue: operations): storage bounds, retention, the admin endpoint, the access log and
 * outbound proxying. Immutable; parsed by {@link ConfigLoader}.
 *
 * @param maxSize         storage cap in bytes, or 0 for unbounded ({@code storage.maxSize})
 * @param highWatermark   fraction of maxSize above which eviction starts ({@code storage.highWatermark}, 0.95)
 * @param lowWatermark    fraction of maxSize eviction goes down to ({@code storage.lowWatermark}, 0.85)
 * @param unusedFor       evict blobs not pulled for this long, or null ({@code retention.unusedFor})
 * @param adminListen     separate address for /metrics, /healthz, /readyz and /api/v1, or null to serve them on
 *                        the registry address ({@code admin.listen}; {@code registry} says null explicitly; with
 *                        {@code auth} on and no {@code admin.listen}, {@link #DEFAULT_ADMIN_LISTEN})
 * @param adminToken      bearer token guarding /api/v1, or null (then /api/v1 answers 401 to everyone)
 *                        ({@code admin.token} or {@code admin.tokenFile}); never printed
 * @param accessLog       whether to write one JSON line per request ({@code accessLog.enabled}, true)
 * @param accessLogPath   {@code stdout}, {@code stderr} or a file path ({@code accessLog.path}, stdout)
 * @param accessLogLevel  {@code info} (every request), {@code warn} (status 400 and up) or {@code error} (500 and
 *                        up) ({@code accessLog.level}, info)
 * @param egressProxy     outbound HTTP(S) proxy URL ({@code egress.proxy}), or null for HTTPS_PROXY/HTTP_PROXY
 * @param noProxy         hosts (or {@code .suffix}es) reached directly ({@code egress.noProxy}), or null for NO_PROXY
 */
public record OperationsConfig(long maxSize, double highWatermark, double lowWatermark, Duration unusedFor,
                               HostPort adminListen, String adminToken, boolean accessLog, String accessLogPath,
                               String accessLogLevel, String egressProxy, List<String> noProxy) {
    /** Where the admin endpoints go when auth is on and {@code admin.listen} is not given. */
    public static final HostPort DEFAULT_ADMIN_LISTEN = new HostPort("127.0.0.1", 5001);

    public static final OperationsConfig DEFAULTS =
            new OperationsConfig(0, 0.95, 0.85, null, null, null, true, "stdout", "info", null, null);

    @Override
    public String toString() {
        return "OperationsConfig[maxSize=" + maxSize + ", highWatermark=" + highWatermark + ", lowWatermark="
                + lowWatermark + ", unusedFor=" + unusedFor + ", adminListen=" + adminListen + ", adminToken="
                + (adminToken == null ? "none" : "***") + ", accessLog=" + accessLog + ", accessLogPath="
                + accessLogPath + ", accessLogLevel=" + accessLogLevel + ", egressProxy=" + egressProxy + ", noProxy="
                + noProxy + "]";
    }

    /** The same settings with the admin endpoints on {@code listen} (null: on the registry address). */
    public OperationsConfig withAdminListen(HostPort listen) {
        return new OperationsConfig(maxSize, highWatermark, lowWatermark, unusedFor, listen, adminToken, accessLog,
                accessLogPath, accessLogLevel, egressProxy, noProxy);
    }

    /** Where the access log goes, as a path; null for stdout/stderr. */
    public Path accessLogFile() {
        return accessLogPath.equals("stdout") || accessLogPath.equals("stderr") ? null : Path.of(accessLogPath);
    }
}
