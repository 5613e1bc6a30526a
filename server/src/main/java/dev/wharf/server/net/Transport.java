package dev.wharf.server.net;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.Locale;

/**
 * The socket transport every bootstrap of wharf uses: Linux's native epoll where its library loads (sendfile of file
 * regions, {@code SO_REUSEPORT}, no selector garbage), else the JDK's NIO. Chosen once at start-up
 * ({@code transport:} in the config: {@code auto}, the default, takes epoll when it loads and says so when it does
 * not; {@code epoll} insists; {@code nio} never tries). Immutable.
 */
public final class Transport {
    /** The values of the {@code transport:} key. */
    public static final java.util.Set<String> CHOICES = java.util.Set.of("auto", "epoll", "nio");

    private final boolean epoll;
    /** Why epoll is not used, or null when it is. */
    private final String fallbackReason;

    private Transport(boolean epoll, String fallbackReason) {
        this.epoll = epoll;
        this.fallbackReason = fallbackReason;
    }

    /** The JDK's NIO transport, whatever the machine offers. */
    public static Transport nio() {
        return new Transport(false, "transport: nio");
    }

    /**
     * The transport for {@code choice} ({@link #CHOICES}, any case; null is {@code auto}).
     *
     * @throws IllegalStateException if {@code epoll} is asked for and its library does not load here
     * @throws IllegalArgumentException for a value not in {@link #CHOICES}
     */
    public static Transport choose(String choice) {
        return choose(choice, Epoll.isAvailable(), Epoll.isAvailable() ? null : Epoll.unavailabilityCause());
    }

    /** As {@link #choose(String)}, with whether epoll loads given (tests of the fallback). */
    static Transport choose(String choice, boolean epollLoads, Throwable whyNot) {
        String c = choice == null ? "auto" : choice.toLowerCase(Locale.ROOT);
        switch (c) {
            case "nio":
                return nio();
            case "epoll":
                if (!epollLoads) {
                    throw new IllegalStateException("transport: epoll, but the native epoll transport does not load "
                            + "on this machine (" + describe(whyNot) + "); use auto or nio");
                }
                return new Transport(true, null);
            case "auto":
                return epollLoads ? new Transport(true, null)
                        : new Transport(false, "the native epoll transport does not load: " + describe(whyNot));
            default:
                throw new IllegalArgumentException("transport must be one of auto, epoll, nio; got '" + choice + "'");
        }
    }

    private static String describe(Throwable t) {
        return t == null ? "not Linux x86_64" : t.toString();
    }

    public boolean isEpoll() {
        return epoll;
    }

    /** {@code epoll} or {@code nio}: for the start-up log and metrics. */
    public String name() {
        return epoll ? "epoll" : "nio";
    }

    /** Why NIO is used, or null when the transport is epoll. */
    public String fallbackReason() {
        return fallbackReason;
    }

    /** An event-loop group of {@code threads} daemon threads named {@code name-N} (0: Netty's default count). */
    public EventLoopGroup group(int threads, String name) {
        DefaultThreadFactory threadsOf = new DefaultThreadFactory(name, true);
        return epoll ? new EpollEventLoopGroup(threads, threadsOf) : new NioEventLoopGroup(threads, threadsOf);
    }

    public Class<? extends ServerChannel> serverChannel() {
        return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    /**
     * The client socket class that runs on {@code group}: a bootstrap's channel must match its group's transport, and
     * the upstream client is handed its group (tests give it an NIO group of their own).
     */
    public static Class<? extends SocketChannel> socketChannelFor(EventLoopGroup group) {
        return group instanceof EpollEventLoopGroup ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    /**
     * How many listening sockets to bind to one address: with epoll, one per event loop with {@code SO_REUSEPORT}, so
     * the kernel spreads new connections over the loops and no single acceptor thread is in the way; NIO has one.
     */
    public int listeners(int eventLoops) {
        return epoll ? Math.max(1, eventLoops) : 1;
    }

    /** Sets the options a listener of this transport needs on {@code b} ({@code SO_REUSEPORT} with epoll). */
    public ServerBootstrap configure(ServerBootstrap b) {
        if (epoll) {
            b.option(EpollChannelOption.SO_REUSEPORT, true);
        }
        return b.channel(serverChannel());
    }

    @Override
    public String toString() {
        return name();
    }
}
