package dev.wharf.server.egress;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The egress proxy: an outbound HTTP proxy reached with {@code CONNECT} (for https and http upstreams alike), and
 * the hosts that bypass it. It comes from {@code egress.proxy} or the environment ({@link #resolve}); the upstream
 * client's connection pools and the token client ({@link #selector}) both ask {@link #appliesTo} per host. This
 * package imports nothing else of wharf's.
 *
 * @param host    proxy host
 * @param port    proxy port
 * @param noProxy hosts that go direct: an exact name, a domain suffix ({@code .example.com} or
 *                {@code example.com}, which also matches its subdomains), an IP literal, a CIDR block
 *                ({@code 10.0.0.0/8}, matched against IP-literal hosts only), or {@code *} for all. A
 *                {@code :port} after a name is ignored.
 */
public record EgressProxy(String host, int port, List<String> noProxy) {

    /** Environment variables read for the proxy, in order: the first one set wins. */
    public static final List<String> PROXY_VARIABLES = List.of("HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
            "http_proxy");
    /** Environment variables read for the no-proxy list, in order. */
    public static final List<String> NO_PROXY_VARIABLES = List.of("NO_PROXY", "no_proxy");
    /**
     * Always direct when the proxy comes from the environment, as Go's {@code ProxyFromEnvironment} (containerd,
     * docker) does: a machine-wide {@code HTTPS_PROXY} must not capture a registry on the same host.
     */
    static final List<String> LOOPBACK = List.of("localhost", "127.0.0.0/8", "::1");

    public EgressProxy {
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

    /**
     * The proxy wharf uses: {@code configuredUrl} ({@code egress.proxy}) when set, else the first of
     * {@link #PROXY_VARIABLES} set in {@code env}; null when neither is. The no-proxy list is
     * {@code configuredNoProxy} ({@code egress.noProxy}) when set, else {@link #NO_PROXY_VARIABLES}
     * (comma-separated). A proxy from the environment never applies to loopback hosts.
     *
     * @throws IllegalArgumentException naming the key or variable when the URL cannot be used
     */
    public static EgressProxy resolve(String configuredUrl, List<String> configuredNoProxy, Map<String, String> env) {
        String url = configuredUrl;
        String source = "egress.proxy";
        if (url == null || url.isBlank()) {
            url = null;
            for (String name : PROXY_VARIABLES) {
                String v = env.get(name);
                if (v != null && !v.isBlank()) {
                    url = v.trim();
                    source = name;
                    break;
                }
            }
        }
        if (url == null) {
            return null;
        }
        List<String> noProxy = new ArrayList<>();
        if (configuredNoProxy != null) {
            noProxy.addAll(configuredNoProxy);
        } else {
            for (String name : NO_PROXY_VARIABLES) {
                String v = env.get(name);
                if (v != null && !v.isBlank()) {
                    noProxy.addAll(Arrays.asList(v.split(",")));
                    break;
                }
            }
        }
        if (!source.equals("egress.proxy")) {
            noProxy.addAll(LOOPBACK);
        }
        return parse(url, source, noProxy);
    }

    /** {@code http://host[:port]} (or a bare {@code host:port}, as many environments write it). */
    static EgressProxy parse(String url, String source, List<String> noProxy) {
        String text = url.contains("://") ? url : "http://" + url;
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException(source + ": '" + url + "' is not a proxy URL: " + e.getMessage());
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http")) {
            throw new IllegalArgumentException(source + ": only http:// proxies (plain HTTP, then CONNECT) are "
                    + "supported, not " + scheme + "://");
        }
        if (uri.getRawUserInfo() != null) {
            // Never echo the URL here: it holds a password.
            throw new IllegalArgumentException(source + ": proxy authentication (user:password@ in the URL) is not "
                    + "supported");
        }
        if (uri.getHost() == null) {
            throw new IllegalArgumentException(source + ": '" + url + "' has no host");
        }
        String path = uri.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/") || uri.getRawQuery() != null) {
            throw new IllegalArgumentException(source + ": '" + url + "' must be http://host:port, without a path");
        }
        return new EgressProxy(uri.getHost(), uri.getPort() == -1 ? 80 : uri.getPort(), noProxy);
    }

    /** Whether a connection to {@code targetHost} goes through this proxy. */
    public boolean appliesTo(String targetHost) {
        String h = targetHost.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        byte[] ip = isIpLiteral(h) ? literal(h) : null;
        for (String entry : noProxy) {
            if (entry.equals("*")) {
                return false;
            }
            if (entry.indexOf('/') >= 0) {
                if (ip != null && inBlock(ip, entry)) {
                    return false;
                }
                continue;
            }
            String e = entry;
            if (e.startsWith("[") && e.indexOf(']') > 0) {
                e = e.substring(1, e.indexOf(']'));
            } else if (e.indexOf(':') == e.lastIndexOf(':') && e.indexOf(':') > 0) {
                e = e.substring(0, e.indexOf(':')); // name:port; IPv6 literals have several colons
            }
            String domain = e.startsWith(".") ? e.substring(1) : e.startsWith("*.") ? e.substring(2) : e;
            if (ip != null) {
                byte[] other = isIpLiteral(domain) ? literal(domain) : null;
                if (other != null && Arrays.equals(ip, other)) {
                    return false;
                }
                continue;
            }
            if (h.equals(domain) || h.endsWith("." + domain)) {
                return false;
            }
        }
        return true;
    }

    /** A selector giving the same answer as {@link #appliesTo}, for the JDK HttpClient (token requests). */
    public ProxySelector selector() {
        Proxy proxy = new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved(host, port));
        return new ProxySelector() {
            @Override
            public List<Proxy> select(URI uri) {
                return uri.getHost() != null && appliesTo(uri.getHost()) ? List.of(proxy) : List.of(Proxy.NO_PROXY);
            }

            @Override
            public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {
                // the request fails with its own error; nothing to remember
            }
        };
    }

    @Override
    public String toString() {
        return "http://" + host + ":" + port + (noProxy.isEmpty() ? "" : " (direct: " + String.join(",", noProxy) + ")");
    }

    /** Whether {@code host} (without brackets) is an IPv4 or IPv6 literal rather than a name. */
    public static boolean isIpLiteral(String host) {
        return host.indexOf(':') >= 0 || host.chars().allMatch(c -> c == '.' || c >= '0' && c <= '9');
    }

    /** The address of an IP literal, without any lookup; null when it is not one. */
    private static byte[] literal(String host) {
        if (host.indexOf(':') >= 0) {
            try {
                // In brackets InetAddress accepts only an IPv6 literal and never asks DNS.
                return InetAddress.getByName("[" + host + "]").getAddress();
            } catch (UnknownHostException | SecurityException e) {
                return null;
            }
        }
        String[] parts = host.split("\\.", -1);
        if (parts.length != 4) {
            return null;
        }
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            if (parts[i].isEmpty() || parts[i].length() > 3) {
                return null;
            }
            int v = Integer.parseInt(parts[i]); // digits only: isIpLiteral checked
            if (v > 255) {
                return null;
            }
            out[i] = (byte) v;
        }
        return out;
    }

    private static boolean inBlock(byte[] ip, String cidr) {
        int slash = cidr.indexOf('/');
        String base = cidr.substring(0, slash);
        if (!isIpLiteral(base)) {
            return false;
        }
        byte[] net = literal(base);
        int bits;
        try {
            bits = Integer.parseInt(cidr.substring(slash + 1));
        } catch (NumberFormatException e) {
            return false;
        }
        if (net == null || net.length != ip.length || bits < 0 || bits > ip.length * 8) {
            return false;
        }
        for (int i = 0; i < bits; i++) {
            int mask = 0x80 >>> (i % 8);
            if ((ip[i / 8] & mask) != (net[i / 8] & mask)) {
                return false;
            }
        }
        return true;
    }
}
