package dev.wharf.server.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;
import dev.wharf.storage.Digest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedNioFile;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import dev.wharf.server.api.CacheResult;
import dev.wharf.server.api.Failures;
import dev.wharf.server.logging.RateLimitedLog;

/**
 * One request and its response on one connection. Every response goes out through here, so the error JSON is
 * written in exactly one place ({@link #error}) and the connection's keep-alive bookkeeping in one place
 * ({@link #finish}).
 *
 * <p>Threading: created on the connection's event loop; the send methods may be called from any thread (Netty
 * hands writes from other threads to the event loop in order). Exactly one response is sent; later attempts are
 * ignored, so a racing error after a success cannot corrupt the stream.
 */
public final class Exchange {
    private static final Logger LOG = LoggerFactory.getLogger(Exchange.class);
    /** A bug that every request hits must not write a stack trace per request: the first, then one a minute. */
    private static final RateLimitedLog INTERNAL_ERRORS = new RateLimitedLog(LOG);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Bytes per chunk where sendfile cannot be used: large enough for TLS records, small enough to stay lean. */
    static final int FILE_CHUNK = 64 << 10;

    private final ChannelHandlerContext ctx;
    private final HttpRequest request;
    /** From the request; turned off by {@link #closeAfterResponse} (written on the event loop before the response). */
    private volatile boolean keepAlive;
    private final boolean head;
    private final boolean sendFile;
    /** HTTP/1.1 through {@link RequestCodec}: a {@link PreparedHead}'s bytes can go out as they are. */
    private final boolean encodedHeads;
    private final AtomicBoolean responded = new AtomicBoolean();
    private final AtomicBoolean finished = new AtomicBoolean();
    private final Runnable onFinish;
    /** Run once when the response ends; guarded by itself. */
    private final java.util.List<Runnable> finishers = new java.util.ArrayList<>(2);
    private volatile int status;
    private volatile long bytesSent;
    // What the handler learned about the answer, for the metrics and the access log (set before the response ends).
    private volatile CacheResult cacheResult;
    private volatile Digest fill;
    private volatile boolean fillJoined;
    /** Who the request acts for once auth let it on (a user or robot name), or null: anonymous. */
    private volatile String principal;

    Exchange(ChannelHandlerContext ctx, HttpRequest request, Runnable onFinish) {
        this.ctx = ctx;
        this.request = request;
        this.keepAlive = HttpUtil.isKeepAlive(request);
        this.head = request.method().equals(HttpMethod.HEAD);
        this.sendFile = canSendFile(ctx);
        this.encodedHeads = ctx.pipeline().get(RequestCodec.class) != null;
        this.onFinish = onFinish;
    }

    public HttpRequest request() {
        return request;
    }

    public ChannelHandlerContext ctx() {
        return ctx;
    }

    /** Closes the connection once the response is sent (say so in its Connection header): call before responding. */
    public void closeAfterResponse() {
        keepAlive = false;
    }

    public boolean isHead() {
        return head;
    }

    public int status() {
        return status;
    }

    public long bytesSent() {
        return bytesSent;
    }

    /** Where this answer's content comes from, or null (not a cacheable endpoint, or not decided yet). */
    public CacheResult cacheResult() {
        return cacheResult;
    }

    /** Records where this answer's content comes from (metrics and access log). */
    public void cacheResult(CacheResult result) {
        this.cacheResult = result;
    }

    /** The digest of the blob fill this answer streams from, or null. */
    public Digest fill() {
        return fill;
    }

    /** True if this answer joined a fill another request started. */
    /** Who the request acts for, or null (anonymous, or no auth configured); for the access and audit logs. */
    public String principal() {
        return principal;
    }

    public void principal(String name) {
        this.principal = name;
    }

    public boolean fillJoined() {
        return fillJoined;
    }

    /** Records that this answer streams from the fill of {@code digest}, started here or ({@code joined}) found running. */
    public void fill(Digest digest, boolean joined) {
        this.fill = digest;
        this.fillJoined = joined;
    }

    /** Sends the OCI error JSON for {@code e}. This is the only place that writes error bodies. */
    public void error(RegistryException e) {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode errors = root.putArray("errors");
        ObjectNode err = errors.addObject();
        err.put("code", e.code().name());
        err.put("message", e.getMessage() == null ? e.code().description() : e.getMessage());
        err.putNull("detail");
        byte[] body;
        try {
            body = JSON.writeValueAsBytes(root);
        } catch (IOException ex) {
            body = ("{\"errors\":[{\"code\":\"" + e.code().name() + "\"}]}").getBytes(StandardCharsets.UTF_8);
        }
        HttpHeaders h = e.headers().copy();
        h.set(HttpHeaderNames.CONTENT_TYPE, "application/json; charset=utf-8");
        bytes(e.status(), h, body);
    }

    /**
     * Answers with {@code stage}: its failure through {@link #fail}, its value through {@code onValue}. Anything
     * {@code onValue} throws also ends the exchange through {@link #fail}: an exception inside a completion stage
     * would otherwise vanish into the stage and leave the request without a response.
     */
    public <T> void answer(CompletionStage<T> stage, Consumer<T> onValue) {
        stage.whenComplete((value, err) -> {
            if (err != null) {
                fail(err);
                return;
            }
            try {
                onValue.accept(value);
            } catch (RuntimeException e) {
                fail(e);
            }
        });
    }

    /** Turns any failure into a response: a RegistryException as is, anything else as 500 with a log line. */
    public void fail(Throwable t) {
        Throwable cause = Failures.unwrap(t);
        if (cause instanceof RegistryException re) {
            error(re);
        } else if (cause instanceof RejectedExecutionException) {
            // The bounded storage executor is full: a clean, retryable refusal rather than work on this thread.
            error(new RegistryException(ErrorCode.UNAVAILABLE, HttpResponseStatus.SERVICE_UNAVAILABLE,
                    "wharf's storage queue is full; retry shortly",
                    new DefaultHttpHeaders().set(HttpHeaderNames.RETRY_AFTER, "1")));
        } else {
            INTERNAL_ERRORS.error(cause.getClass().getName(), "internal error on {} {}", request.method(),
                    request.uri(), cause);
            error(new RegistryException(ErrorCode.UNAVAILABLE, HttpResponseStatus.INTERNAL_SERVER_ERROR,
                    "internal error: " + cause.getClass().getSimpleName()));
        }
    }

    /** A complete response with a small body (a HEAD sends the headers and Content-Length only). */
    public void bytes(HttpResponseStatus st, HttpHeaders headers, byte[] body) {
        if (!responded.compareAndSet(false, true) || serverStopping()) {
            return;
        }
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, st,
                head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
        headers(resp, headers, body.length, keepAlive);
        status = st.code();
        bytesSent = head ? 0 : body.length;
        ctx.writeAndFlush(resp).addListener(this::finish);
    }

    /**
     * True once the client's event loop is shutting down (wharf is stopping): an answer that completes then, from an
     * upstream or storage thread, has no connection left to go to, and a write would only make Netty log a rejected
     * listener notification with a stack trace.
     */
    private boolean serverStopping() {
        return ctx.executor().isShuttingDown();
    }

    /**
     * The answer whose head was encoded once ({@link PreparedHead}), with {@code body} (its Content-Length) unless
     * the request is a HEAD. On HTTP/1.1 the head's bytes go out as they are: no header map, no encoding; an HTTP/2
     * stream gets the same headers as an ordinary response.
     */
    public void prepared(PreparedHead prepared, byte[] body) {
        if (!encodedHeads) {
            bytes(prepared.status(), prepared.headers(), body);
            return;
        }
        if (!responded.compareAndSet(false, true) || serverStopping()) {
            return;
        }
        status = prepared.status().code();
        ByteBuf headBytes = prepared.encoded(keepAlive);
        ByteBuf bytes;
        if (head) {
            bytes = headBytes;
        } else {
            bytes = Unpooled.wrappedBuffer(headBytes, Unpooled.wrappedBuffer(body));
            bytesSent = body.length;
        }
        ctx.writeAndFlush(new EncodedResponse(bytes)).addListener(this::finish);
    }

    /** Headers only, with an explicit Content-Length (HEAD answers for content that is not read here). */
    public void headersOnly(HttpResponseStatus st, HttpHeaders headers, long contentLength) {
        if (!responded.compareAndSet(false, true) || serverStopping()) {
            return;
        }
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, st, Unpooled.EMPTY_BUFFER);
        headers(resp, headers, contentLength, keepAlive);
        status = st.code();
        ctx.writeAndFlush(resp).addListener(this::finish);
    }

    /**
     * Serves {@code length} bytes of a committed file from {@code offset}, zero-copy where it can
     * ({@link #canSendFile}). Takes ownership of
     * {@code file}: it is closed when the response is done, or at once if a response was already sent.
     */
    public void file(HttpResponseStatus st, HttpHeaders headers, FileChannel file, long offset, long length) {
        if (!responded.compareAndSet(false, true)) {
            closeQuietly(file);
            return;
        }
        ctx.write(head(st, headers, length));
        bytesSent = length;
        if (length > 0 && !sendFile) {
            // TLS or an HTTP/2 stream: chunks read as the channel can take them (ChunkedWriteHandler), ending with
            // the last content; the input closes the file.
            try {
                ctx.writeAndFlush(new HttpChunkedInput(new ChunkedNioFile(file, offset, length, FILE_CHUNK)))
                        .addListener(this::finish);
            } catch (IOException e) {
                closeQuietly(file);
                abort();
            }
            return;
        }
        if (length > 0) {
            ctx.write(new DefaultFileRegion(file, offset, length));
        } else {
            closeQuietly(file);
        }
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(this::finish);
    }

    /**
     * Whether this response may send files with sendfile ({@link io.netty.channel.FileRegion}): only on a plain
     * socket. An SslHandler cannot encrypt a region and an HTTP/2 stream carries frames, so there the body goes as
     * {@link HttpContent} chunks (the pipeline has a ChunkedWriteHandler: {@link ClientPipeline}).
     */
    public boolean canSendFile() {
        return sendFile;
    }

    static boolean canSendFile(ChannelHandlerContext ctx) {
        return ctx.channel() instanceof SocketChannel && ctx.pipeline().get(SslHandler.class) == null;
    }

    /**
     * Starts a streamed response: sends the headers now; the caller writes the body and then calls
     * {@link #endStream()} or {@link #abort()}. Returns false if a response was already sent.
     */
    public boolean startStream(HttpResponseStatus st, HttpHeaders headers, long contentLength) {
        if (!responded.compareAndSet(false, true)) {
            return false;
        }
        ctx.writeAndFlush(head(st, headers, contentLength));
        return true;
    }

    /** Counts streamed body bytes (for the access log and metrics). */
    public void addBytesSent(long n) {
        bytesSent += n;
    }

    /** Ends a streamed body normally. */
    public void endStream() {
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(this::finish);
    }

    /**
     * Cuts the connection mid-body: the headers are gone, so closing without the last chunk is the only honest
     * signal that the body is not whole.
     */
    public void abort() {
        responded.set(true);
        ctx.channel().close();
        if (finished.compareAndSet(false, true)) {
            runFinishers();
            onFinish.run();
        }
    }

    /**
     * Runs {@code action} once when the response has ended: sent, failed, aborted or cut by the client; at once if
     * it already has. For what the response holds until then, such as a blob lease that keeps eviction away.
     */
    public void whenFinished(Runnable action) {
        synchronized (finishers) {
            if (!finished.get()) {
                finishers.add(action);
                return;
            }
        }
        action.run();
    }

    private void runFinishers() {
        java.util.List<Runnable> actions;
        synchronized (finishers) {
            actions = new java.util.ArrayList<>(finishers);
            finishers.clear();
        }
        for (Runnable action : actions) {
            try {
                action.run();
            } catch (RuntimeException e) {
                LOG.warn("an end-of-response action failed", e);
            }
        }
    }

    /** The head of a response whose body follows separately; records the status. */
    private HttpResponse head(HttpResponseStatus st, HttpHeaders headers, long contentLength) {
        HttpResponse resp = new DefaultHttpResponse(HttpVersion.HTTP_1_1, st);
        headers(resp, headers, contentLength, keepAlive);
        status = st.code();
        return resp;
    }

    /** The headers wharf adds to every response: the API version and the connection's fate. */
    private static void connectionHeaders(HttpResponse resp, boolean keepAlive) {
        resp.headers().set(API_VERSION, REGISTRY_2);
        resp.headers().set(HttpHeaderNames.CONNECTION, keepAlive ? HttpHeaderValues.KEEP_ALIVE
                : HttpHeaderValues.CLOSE);
    }

    /**
     * Sets {@code headers}, the Content-Length and the headers of {@link #connectionHeaders} on {@code resp}, as
     * every ordinary response gets them; {@link PreparedHead} encodes its bytes from this.
     */
    static void headers(HttpResponse resp, HttpHeaders headers, long contentLength, boolean keepAlive) {
        resp.headers().set(headers);
        resp.headers().set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
        connectionHeaders(resp, keepAlive);
    }

    private static final io.netty.util.AsciiString API_VERSION =
            io.netty.util.AsciiString.cached("Docker-Distribution-API-Version");
    private static final io.netty.util.AsciiString REGISTRY_2 = io.netty.util.AsciiString.cached("registry/2.0");

    private void finish(Future<? super Void> f) {
        if (!f.isSuccess() || !keepAlive) {
            ctx.channel().close();
        }
        if (finished.compareAndSet(false, true)) {
            runFinishers();
            onFinish.run();
        }
    }

    static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // nothing useful to do
        }
    }

    /** Marks a listener that closes the channel on failure; for body writes. */
    static final ChannelFutureListener CLOSE_ON_FAILURE = ChannelFutureListener.CLOSE_ON_FAILURE;

    /** The channel's write future for a body part; exposed for streamers. */
    ChannelFuture writeBody(Object msg) {
        return ctx.writeAndFlush(msg);
    }
}
