package dev.wharf.server.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.server.accesslog.AccessLog;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.server.http.Endpoints;
import dev.wharf.server.http.RequestHandler;
import dev.wharf.server.metrics.WharfMetrics;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import java.io.InputStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The dispatch of {@code /admission/rewrite} in the request handler on a connection whose pipeline holds an
 * {@link SslHandler}, as a TLS connection's does: the handler sees TLS and hands the body to the webhook. Requests
 * are fed to the handler behind the SslHandler (no handshake is needed for the dispatch), and responses are taken
 * before they would be encrypted.
 */
class AdmissionOverTlsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private EmbeddedChannel channel;
    private final AtomicReference<FullHttpResponse> response = new AtomicReference<>();

    @BeforeEach
    void connect() throws Exception {
        RewriteWebhook webhook = new RewriteWebhook(new ImageRewriter(ConfigLoader.parse("""
                rewrite:
                  rules:
                    - {name: hub, matches: ['^docker.io/'], replace: 'wharf.example.com/docker.io'}
                """, "test.yaml").rewrite().rules(), (path, ref) -> { throw new AssertionError("no check"); }));
        Endpoints none = (Endpoints) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Endpoints.class},
                (proxy, method, args) -> { throw new AssertionError("no registry request expected"); });
        channel = new EmbeddedChannel();
        channel.pipeline().addLast("tls", SslContextBuilder.forClient().build().newHandler(channel.alloc()));
        channel.pipeline().addLast("capture", new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                if (msg instanceof FullHttpResponse r) {
                    response.set(r);
                    promise.setSuccess();
                } else {
                    ctx.write(msg, promise);
                }
            }
        });
        channel.pipeline().addLast("registry", new RequestHandler(null, none, () -> null, new AtomicInteger(),
                new WharfMetrics(), (ex, body) -> { throw new AssertionError("no admin request expected"); },
                webhook, AccessLog.OFF, RequestHandler.Serves.REGISTRY));
    }

    @AfterEach
    void close() {
        if (response.get() != null) {
            response.get().release();
        }
        channel.finishAndReleaseAll();
    }

    /** Sends a request with {@code body} in chunks of at most 64 KiB, and waits for the answer. */
    private FullHttpResponse send(HttpMethod method, byte[] body) throws InterruptedException {
        DefaultHttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, "/admission/rewrite");
        req.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
        req.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        ChannelHandlerContext at = channel.pipeline().context("capture");
        at.fireChannelRead(req);
        int chunk = 64 << 10;
        for (int off = 0; off < body.length; off += chunk) {
            at.fireChannelRead(new DefaultHttpContent(Unpooled.wrappedBuffer(body, off, Math.min(chunk, body.length - off))));
        }
        at.fireChannelRead(new DefaultLastHttpContent());
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (response.get() == null && System.nanoTime() < deadline) {
            channel.runPendingTasks(); // the answer is written from the thread that completed the review
            Thread.sleep(5);
        }
        assertNotNull(response.get(), "no response");
        return response.get();
    }

    private static String text(FullHttpResponse r) {
        return r.content().toString(StandardCharsets.UTF_8);
    }

    @Test
    void aPodIsPatched() throws Exception {
        byte[] review;
        try (InputStream in = getClass().getResourceAsStream("/admission/pod-mixed.json")) {
            review = in.readAllBytes();
        }
        FullHttpResponse r = send(HttpMethod.POST, review);
        assertEquals(200, r.status().code(), text(r));
        assertEquals("application/json", r.headers().get(HttpHeaderNames.CONTENT_TYPE));
        JsonNode answer = JSON.readTree(text(r));
        assertEquals("705ab4f5-6393-11e8-b7cc-42010a800002", answer.at("/response/uid").asText());
        assertTrue(answer.at("/response/allowed").asBoolean());
        assertEquals("JSONPatch", answer.at("/response/patchType").asText());
    }

    @Test
    void anotherMethodIs405() throws Exception {
        FullHttpResponse r = send(HttpMethod.GET, new byte[0]);
        assertEquals(405, r.status().code());
        assertEquals("POST", r.headers().get(HttpHeaderNames.ALLOW));
    }

    @Test
    void aMalformedReviewIs400() throws Exception {
        FullHttpResponse r = send(HttpMethod.POST, "{\"kind\":\"AdmissionReview\"".getBytes(StandardCharsets.UTF_8));
        assertEquals(400, r.status().code());
        assertTrue(text(r).contains("the body is not JSON"), text(r));
    }

    @Test
    void aBodyAboveOneMebibyteIs400() throws Exception {
        FullHttpResponse r = send(HttpMethod.POST, new byte[(1 << 20) + 1]);
        assertEquals(400, r.status().code());
        assertTrue(text(r).contains("larger than 1048576 bytes"), text(r));
    }
}
