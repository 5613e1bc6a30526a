package dev.wharf.server.upstream;

import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.InetNameResolver;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;

/**
 * The name resolution every direct upstream connection goes through: a host NAME whose addresses include a
 * link-local, multicast or cloud metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254) is not connected to.
 * {@link RedirectGuard} judges a redirect's host before it is followed, but the connection resolves the name again;
 * checking here too closes that DNS-rebinding window for the addresses no upstream ever needs (a name that answered
 * a public address to the guard and the metadata address to the connection). Literal addresses pass as written: an
 * operator who configures one means it, and redirects to literals are judged by the guard. Look-ups are the JDK's,
 * on the same small bounded executor the redirect guard resolves on, never on an event loop; when it is full the
 * connection fails rather than waits.
 */
final class ConnectTimeGuard extends AddressResolverGroup<InetSocketAddress> {
    /** Looks a host name up (the JDK's resolver; a seam for tests). */
    interface Lookup {
        InetAddress[] all(String host) throws UnknownHostException;
    }

    private final Lookup lookup;
    private final Executor lookups;

    /** Looks names up with {@code lookup} on {@code lookups}, which must not be an event loop. */
    ConnectTimeGuard(Lookup lookup, Executor lookups) {
        this.lookup = lookup;
        this.lookups = lookups;
    }

    @Override
    protected AddressResolver<InetSocketAddress> newResolver(EventExecutor executor) {
        return new Resolver(executor, lookup, lookups).asAddressResolver();
    }

    /** The addresses of {@code host}, refused as a whole when one of them is forbidden (and host is a name). */
    static List<InetAddress> checked(Lookup lookup, String host) throws UnknownHostException {
        InetAddress[] all = lookup.all(host);
        if (NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host)) {
            return Arrays.asList(all);
        }
        for (InetAddress a : all) {
            if (RedirectGuard.rangeOf(a) == RedirectGuard.Range.FORBIDDEN) {
                throw new UnknownHostException(host + " resolves to " + a.getHostAddress()
                        + ", a link-local or metadata address: wharf does not connect there");
            }
        }
        return Arrays.asList(all);
    }

    private static final class Resolver extends InetNameResolver {
        private final Lookup lookup;
        private final Executor lookups;

        Resolver(EventExecutor executor, Lookup lookup, Executor lookups) {
            super(executor);
            this.lookup = lookup;
            this.lookups = lookups;
        }

        @Override
        protected void doResolve(String host, Promise<InetAddress> promise) {
            resolve(host, promise, all -> all.get(0));
        }

        @Override
        protected void doResolveAll(String host, Promise<List<InetAddress>> promise) {
            resolve(host, promise, all -> all);
        }

        private <T> void resolve(String host, Promise<T> promise, Function<List<InetAddress>, T> pick) {
            try {
                lookups.execute(() -> {
                    try {
                        promise.trySuccess(pick.apply(checked(lookup, host)));
                    } catch (UnknownHostException | RuntimeException e) {
                        promise.tryFailure(e);
                    }
                });
            } catch (RejectedExecutionException e) {
                promise.tryFailure(e); // too many look-ups at once: refuse, never block the event loop
            }
        }
    }
}
