package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.NettyLeaks;
import dev.wharf.auth.upstream.BearerTokens;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.SelfSignedCertificate;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The two TLS points a real registry cannot show: which SNI name the client sent (a registry does not report it),
 * checked by an in-process Netty HTTPS server with a self-signed certificate for {@code localhost}, and a missing
 * CA file named in the error (no server at all). Trusting a project's CA file, refusing a private CA with the JDK's
 * trust store alone, and the host-name check run against a real {@code docker-registry} serving TLS in
 * {@link UpstreamClientRealRegistryTest}.
 */
class UpstreamTlsTest {
    private static final long T = RecordingListener.TIMEOUT_S;
    private static EventLoopGroup group;
    private static SelfSignedCertificate cert;
    private static Channel server;
    private static int port;
    private static final List<String> sniNames = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        group = new NioEventLoopGroup(2);
        cert = new SelfSignedCertificate("localhost");
        SslContext serverTls = SslContextBuilder.forServer(cert.certificate(), cert.privateKey()).build();
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new SniHandler(hostname -> {
                            sniNames.add(String.valueOf(hostname));
                            return serverTls;
                        }));
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1024));
                        ch.pipeline().addLast(new SimpleChannelInboundHandler<FullHttpRequest>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                                FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                        HttpResponseStatus.OK, Unpooled.copiedBuffer("tls ok", StandardCharsets.UTF_8));
                                HttpUtil.setContentLength(resp, resp.content().readableBytes());
                                ctx.writeAndFlush(resp);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close(); // failed handshakes are what some tests want
                            }
                        });
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        port = ((InetSocketAddress) server.localAddress()).getPort();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close().sync();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        cert.delete();
        NettyLeaks.assertNoLeaks();
    }

    private static UpstreamResponse fetch(String host, SslContext ssl) throws Exception {
        try (UpstreamClient client = new UpstreamClient(group, new BearerTokens(), Duration.ofSeconds(2),
                Duration.ofSeconds(2))) {
            UpstreamEndpoint ep = new UpstreamEndpoint(URI.create("https://" + host + ":" + port), ssl, null,
                    "tlsproj");
            UpstreamRequest r = new UpstreamRequest(HttpMethod.GET, "/v2/", null, new DefaultHttpHeaders(), null);
            UpstreamResponse first = client.fetch(ep, r, 1024).get(T, TimeUnit.SECONDS);
            UpstreamResponse second = client.fetch(ep, r, 1024).get(T, TimeUnit.SECONDS);
            assertEquals(1, client.connectionsOpened(), "TLS connections are pooled too");
            assertEquals(first.status(), second.status());
            return first;
        }
    }

    @Test
    void trustsTheProjectCaFileAndSendsSni() throws Exception {
        SslContext ssl = UpstreamTls.clientSslContext(cert.certificate().toPath());
        UpstreamResponse r = fetch("localhost", ssl);
        assertEquals(200, r.status());
        assertEquals("tls ok", new String(r.body(), StandardCharsets.UTF_8));
        assertTrue(sniNames.contains("localhost"), sniNames.toString());
    }

    @Test
    void missingCaFileIsNamed() {
        Path missing = Path.of("/nonexistent/ca.pem");
        IOException e = assertThrows(IOException.class, () -> UpstreamTls.clientSslContext(missing));
        assertTrue(e.getMessage().contains("CA file /nonexistent/ca.pem"), e.getMessage());
    }
}
