package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.auth.upstream.BearerTokens;
import dev.wharf.auth.upstream.Challenge;
import dev.wharf.server.config.ProjectConfig;
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
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.SelfSignedCertificate;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A project's TLS context ({@link UpstreamTls#forProject}) for its registry and its token server alike. The server here has a
 * self-signed certificate for {@code localhost} and is reached as {@code 127.0.0.1}: untrusted, and for another name.
 * {@code insecureSkipVerify} accepts it (both checks skipped) for registry requests and token requests; a
 * {@code caFile} trusting the certificate still rejects the wrong name. An in-process Netty server is enough here:
 * the real-registry side is {@code InsecureSkipVerifyTest}.
 */
class ProjectTlsTest {
    private static EventLoopGroup group;
    private static SelfSignedCertificate cert;
    private static Channel server;
    private static int port;

    @BeforeAll
    static void start() throws Exception {
        group = new NioEventLoopGroup(2);
        cert = new SelfSignedCertificate("localhost");
        SslContext tls = SslContextBuilder.forServer(cert.certificate(), cert.privateKey()).build();
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(tls.newHandler(ch.alloc()), new HttpServerCodec(),
                                new HttpObjectAggregator(4096), new SimpleChannelInboundHandler<FullHttpRequest>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                                        String body = req.uri().startsWith("/token") ? "{\"token\":\"t0k\"}" : "tls ok";
                                        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                                HttpResponseStatus.OK,
                                                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
                                        HttpUtil.setContentLength(r, r.content().readableBytes());
                                        ctx.writeAndFlush(r);
                                    }

                                    @Override
                                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                        ctx.close(); // failed handshakes are expected here
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
    }

    private static ProjectConfig project(boolean insecure, boolean caFile) {
        URI upstream = URI.create("https://127.0.0.1:" + port);
        return new ProjectConfig("p", upstream, List.of(), Duration.ofMinutes(5),
                caFile ? cert.certificate().toPath() : null, null, null, List.of(upstream), insecure, null);
    }

    private static UpstreamResponse fetch(SslContext ssl) throws Exception {
        try (UpstreamClient client = new UpstreamClient(group, new BearerTokens(), Duration.ofSeconds(2),
                Duration.ofSeconds(2))) {
            UpstreamEndpoint ep = new UpstreamEndpoint(URI.create("https://127.0.0.1:" + port), ssl, null, "p");
            return client.fetch(ep, new UpstreamRequest(HttpMethod.GET, "/v2/", null, new DefaultHttpHeaders(), null),
                    1024).get(20, TimeUnit.SECONDS);
        }
    }

    private static String token(SslContext ssl) throws Exception {
        BearerTokens tokens = new BearerTokens(HttpClient.Builder.NO_PROXY);
        Challenge c = new Challenge("bearer", Map.of("realm", "https://127.0.0.1:" + port + "/token",
                "service", "s"));
        return tokens.token(c, "repository:a:pull", null, ((JdkSslContext) ssl).context()).get(20, TimeUnit.SECONDS);
    }

    @Test
    void insecureSkipVerifyAcceptsAnUntrustedCertificateForAnotherName() throws Exception {
        SslContext insecure = UpstreamTls.forProject(project(true, false));
        assertEquals("tls ok", new String(fetch(insecure).body(), StandardCharsets.UTF_8));
        assertEquals("t0k", token(insecure), "the token server is reached with the project's TLS settings");
    }

    @Test
    void caFileTrustsTheCertificateButStillChecksTheName() throws Exception {
        SslContext ca = UpstreamTls.forProject(project(false, true));
        ExecutionException e = assertThrows(ExecutionException.class, () -> fetch(ca));
        assertTrue(e.getCause().getMessage().contains("TLS"), e.getCause().getMessage());
        ExecutionException t = assertThrows(ExecutionException.class, () -> token(ca));
        assertInstanceOf(java.io.IOException.class, t.getCause());
    }

    @Test
    void noCaFileAndNoInsecureMeansTheJdkTrustStore() {
        assertNull(UpstreamTls.forProject(project(false, false)));
    }
}
