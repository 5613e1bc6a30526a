package dev.wharf.server.upstream;

import java.util.List;
import java.util.Locale;

/**
 * An outbound HTTP proxy reached with {@code CONNECT} (for https and http upstreams alike), and the hosts that
 * bypass it.
 *
 * @param host    proxy host
 * @param port    proxy port
 * @param noProxy host names that go direct: an exact name, a domain suffix ({@code .example.com} or
 *                {@code example.com}, which also matches its subdomains), or {@code *} for all
 */
public record UpstreamProxy(String host, int port, List<String> noProxy) {

    public UpstreamProxy {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("proxy host is required");
        }
        if (port <= 0 || port > 65535) {
            throw new IllegalArgumentException("proxy port out of range: " + port);
        }
        noProxy = noProxy == null ? List.of() : noProxy.stream()
                .map(s -> s.trim().toLowerCase(Locale.ROOT))
                .filter(s -> !s.isEmpty())
                .toList();
    }

    /** Whether a connection to {@code targetHost} goes through this proxy. */
    public boolean appliesTo(String targetHost) {
        String h = targetHost.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        for (String entry : noProxy) {
            if (entry.equals("*")) {
                return false;
            }
            String domain = entry.startsWith(".") ? entry.substring(1) : entry;
            if (h.equals(domain) || h.endsWith("." + domain)) {
                return false;
            }
        }
        return true;
    }
}
