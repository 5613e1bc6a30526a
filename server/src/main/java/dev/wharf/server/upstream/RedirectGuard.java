package dev.wharf.server.upstream;

import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Executor;

/**
 * Where an upstream redirect may lead (issue 8, item 6). Never from https to http; never to a link-local, multicast
 * or cloud metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254); to loopback or a private range only when the
 * endpoint itself is in that range, or the project sets {@code allowPrivateRedirects}. Every address the target
 * host resolves to is checked, before any connection. Names are resolved by a {@link Resolver} off the event loops.
 * The connection resolves the name again; the remaining rebinding window is noted in docs/architecture.md. A name
 * reached through the egress proxy is not looked up here (the proxy resolves it, and local DNS may not know it):
 * it counts as public, and only literal addresses are judged.
 */
final class RedirectGuard {
    /** Resolves a host name to all its addresses, without blocking the caller. */
    interface Resolver {
        CompletableFuture<List<InetAddress>> resolve(String host);

        /** {@link InetAddress#getAllByName} on {@code executor}, which must not be an event loop. */
        static Resolver blocking(Executor executor) {
            return host -> {
                try {
                    return CompletableFuture.supplyAsync(() -> {
                        try {
                            return Arrays.asList(InetAddress.getAllByName(host));
                        } catch (UnknownHostException e) {
                            throw new CompletionException(e);
                        }
                    }, executor);
                } catch (RejectedExecutionException e) {
                    return CompletableFuture.failedFuture(e); // too many look-ups at once: refuse, never block
                }
            };
        }
    }

    /** How far from the public internet an address is. */
    enum Range {
        PUBLIC, PRIVATE, LOOPBACK, FORBIDDEN
    }

    private static final byte[] EC2_METADATA_V6 = NetUtil.createByteArrayFromIpAddressString("fd00:ec2::254");

    private final Resolver resolver;
    /** Whether a host is reached through the egress proxy. */
    private final java.util.function.Predicate<String> proxied;

    RedirectGuard(Resolver resolver) {
        this(resolver, host -> false);
    }

    RedirectGuard(Resolver resolver, java.util.function.Predicate<String> proxied) {
        this.resolver = resolver;
        this.proxied = proxied;
    }

    /**
     * Completes with null when {@code endpoint} may follow a redirect from {@code from} to {@code to}, else with why
     * not. Never fails.
     */
    CompletableFuture<String> check(UpstreamEndpoint endpoint, URI from, URI to) {
        if ("https".equalsIgnoreCase(from.getScheme()) && !"https".equalsIgnoreCase(to.getScheme())) {
            return CompletableFuture.completedFuture("redirect from https to http refused");
        }
        String host = UpstreamUrls.hostOf(to);
        String own = UpstreamUrls.hostOf(endpoint.base());
        if (host.equals(own)) {
            return done(null); // the configured upstream's own host
        }
        return range(host).thenCompose(target -> {
            if (target == Range.FORBIDDEN) {
                return done("redirect to " + host + " refused: a link-local or metadata address");
            }
            if (target == Range.PUBLIC || endpoint.allowPrivateRedirects()) {
                return done(null);
            }
            return range(own).thenApply(ours -> ours == target ? null
                    : "redirect to " + host + " refused: a " + target.name().toLowerCase(java.util.Locale.ROOT)
                            + " address, and the upstream is not (set allowPrivateRedirects to allow it)");
        }).exceptionally(e -> "redirect to " + host + " refused: cannot resolve it ("
                + UpstreamFailures.rootMessage(e) + ")");
    }

    private static CompletableFuture<String> done(String why) {
        return CompletableFuture.completedFuture(why);
    }

    /** The least public range among the addresses of {@code host} (a literal is not looked up). */
    private CompletableFuture<Range> range(String host) {
        byte[] literal = NetUtil.createByteArrayFromIpAddressString(host);
        if (literal != null) {
            try {
                return CompletableFuture.completedFuture(rangeOf(InetAddress.getByAddress(literal)));
            } catch (UnknownHostException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        if (proxied.test(host)) {
            return CompletableFuture.completedFuture(Range.PUBLIC);
        }
        return resolver.resolve(host).thenApply(addresses -> {
            Range worst = Range.PUBLIC;
            for (InetAddress a : addresses) {
                Range r = rangeOf(a);
                if (r.ordinal() > worst.ordinal()) {
                    worst = r;
                }
            }
            return worst;
        });
    }

    static Range rangeOf(InetAddress a) {
        byte[] b = a.getAddress();
        if (a.isLinkLocalAddress() || a.isMulticastAddress() || Arrays.equals(b, EC2_METADATA_V6)) {
            return Range.FORBIDDEN;
        }
        if (a instanceof Inet6Address && b[0] == 0 && isIpv4Compatible(b)) {
            return rangeOf4(Arrays.copyOfRange(b, 12, 16)); // ::a.b.c.d
        }
        if (a.isLoopbackAddress() || a.isAnyLocalAddress()) {
            return Range.LOOPBACK;
        }
        if (a instanceof Inet4Address) {
            return rangeOf4(b);
        }
        if ((b[0] & 0xfe) == 0xfc || a.isSiteLocalAddress()) { // fc00::/7, fec0::/10
            return Range.PRIVATE;
        }
        return Range.PUBLIC;
    }

    private static Range rangeOf4(byte[] b) {
        int o0 = b[0] & 0xff;
        int o1 = b[1] & 0xff;
        if (o0 == 169 && o1 == 254) {
            return Range.FORBIDDEN;
        }
        if (o0 == 127 || o0 == 0) {
            return Range.LOOPBACK;
        }
        if (o0 == 10 || o0 == 172 && (o1 & 0xf0) == 16 || o0 == 192 && o1 == 168 || o0 == 100 && (o1 & 0xc0) == 64) {
            return Range.PRIVATE;
        }
        return o0 >= 224 ? Range.FORBIDDEN : Range.PUBLIC;
    }

    private static boolean isIpv4Compatible(byte[] b) {
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return b[10] == 0 && b[11] == 0 || (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff;
    }
}
