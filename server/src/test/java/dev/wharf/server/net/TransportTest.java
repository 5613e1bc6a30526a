package dev.wharf.server.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The transport choice: epoll where it loads (it must on the Linux x86_64 machines wharf is built and tested on),
 * a clean fall back to NIO for {@code auto} where it does not, a refusal naming the reason for {@code epoll}; and
 * both transports really serve: listeners bound as the server binds them (several with SO_REUSEPORT under epoll),
 * a client of the same transport, bytes both ways.
 */
class TransportTest {
    private static final Throwable NO_LIBRARY = new UnsatisfiedLinkError("no netty_transport_native_epoll");

    @Test
    void autoTakesEpollWhereItLoads() {
        Transport t = Transport.choose("auto");
        assertTrue(t.isEpoll(), "the native epoll transport did not load on this Linux x86_64 machine: "
                + io.netty.channel.epoll.Epoll.unavailabilityCause());
        assertNull(t.fallbackReason());
        assertEquals("epoll", t.name());
    }

    @Test
    void autoFallsBackToNioAndSaysWhy() {
        Transport t = Transport.choose("auto", false, NO_LIBRARY);
        assertFalse(t.isEpoll());
        assertEquals("nio", t.name());
        assertTrue(t.fallbackReason().contains("no netty_transport_native_epoll"), t.fallbackReason());
        assertEquals(1, t.listeners(8), "NIO binds one listener");
        EventLoopGroup g = t.group(1, "test-nio");
        try {
            assertTrue(g instanceof NioEventLoopGroup);
            assertEquals(NioSocketChannel.class, Transport.socketChannelFor(g));
        } finally {
            g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void epollWhereItDoesNotLoadIsRefusedWithTheReason() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Transport.choose("epoll", false, NO_LIBRARY));
        assertTrue(e.getMessage().contains("no netty_transport_native_epoll"), e.getMessage());
        assertTrue(e.getMessage().contains("auto or nio"), e.getMessage());
    }

    @Test
    void nioIsNioEvenWhereEpollLoads() {
        assertFalse(Transport.choose("NIO", true, null).isEpoll());
        assertTrue(Transport.choose(null, true, null).isEpoll(), "no choice is auto");
        assertThrows(IllegalArgumentException.class, () -> Transport.choose("kqueue", true, null));
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void listenersAndClientsOfEachTransportExchangeBytes(String choice) throws Exception {
        Transport t = Transport.choose(choice);
        EventLoopGroup loops = t.group(2, "test-" + choice);
        List<Channel> listeners = new ArrayList<>();
        try {
            assertEquals(choice.equals("epoll") ? EpollSocketChannel.class : NioSocketChannel.class,
                    Transport.socketChannelFor(loops));
            assertEquals(choice.equals("epoll"), loops instanceof EpollEventLoopGroup);
            ServerBootstrap sb = t.configure(new ServerBootstrap()).group(loops, loops)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    ctx.writeAndFlush(msg); // echo
                                }
                            });
                        }
                    });
            InetSocketAddress at = new InetSocketAddress("127.0.0.1", ListenProbe.claim(
                    new InetSocketAddress("127.0.0.1", 0)));
            for (int i = 0; i < t.listeners(2); i++) {
                listeners.add(sb.bind(at).sync().channel());
            }
            assertEquals(choice.equals("epoll") ? 2 : 1, listeners.size());
            for (int i = 0; i < 4; i++) {
                CompletableFuture<String> echoed = new CompletableFuture<>();
                Channel c = new Bootstrap().group(loops).channel(Transport.socketChannelFor(loops))
                        .handler(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ByteBuf b = (ByteBuf) msg;
                                echoed.complete(b.toString(StandardCharsets.US_ASCII));
                                b.release();
                            }
                        }).connect(at).sync().channel();
                c.writeAndFlush(Unpooled.copiedBuffer("ping" + i, StandardCharsets.US_ASCII));
                assertEquals("ping" + i, echoed.get(10, TimeUnit.SECONDS));
                c.close().sync();
            }
        } finally {
            for (Channel l : listeners) {
                l.close().syncUninterruptibly();
            }
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void aTakenAddressFailsTheProbeAsAPlainBindWould() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            BindException e = assertThrows(BindException.class,
                    () -> ListenProbe.claim(new InetSocketAddress("127.0.0.1", taken.getLocalPort())));
            assertNotNull(e.getMessage());
            assertTrue(e.getMessage().contains(String.valueOf(taken.getLocalPort())), e.getMessage());
        }
    }
}
