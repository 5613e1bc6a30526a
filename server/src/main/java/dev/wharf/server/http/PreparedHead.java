package dev.wharf.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.ReadOnlyHttpHeaders;
import java.util.Map;

/**
 * A response head encoded once, for an answer that many requests get unchanged (a cached manifest): the status
 * line and the header block, byte for byte what {@link Exchange} would write for the same status, headers and
 * length, in a keep-alive and a close variant. On an HTTP/1.1 connection {@link Exchange#prepared} writes these bytes
 * past the encoder; an HTTP/2 stream gets the same headers as an ordinary response. Immutable, shared by every
 * connection: its buffers are unreleasable and handed out as duplicates.
 */
public final class PreparedHead {
    private final HttpResponseStatus status;
    private final HttpHeaders headers;
    private final long contentLength;
    private final ByteBuf keepAlive;
    private final ByteBuf close;

    private PreparedHead(HttpResponseStatus status, HttpHeaders headers, long contentLength) {
        this.status = status;
        this.headers = headers;
        this.contentLength = contentLength;
        this.keepAlive = encode(status, headers, contentLength, true);
        this.close = encode(status, headers, contentLength, false);
    }

    /** The head of an answer with {@code status}, {@code headers} (copied) and a body of {@code contentLength}. */
    public static PreparedHead of(HttpResponseStatus status, HttpHeaders headers, long contentLength) {
        String[] pairs = new String[headers.size() * 2];
        int i = 0;
        for (Map.Entry<String, String> e : headers) {
            pairs[i++] = e.getKey();
            pairs[i++] = e.getValue();
        }
        return new PreparedHead(status, new ReadOnlyHttpHeaders(false, (CharSequence[]) pairs), contentLength);
    }

    private static ByteBuf encode(HttpResponseStatus status, HttpHeaders headers, long contentLength,
                                  boolean keepAlive) {
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.EMPTY_BUFFER);
        Exchange.headers(resp, headers, contentLength, keepAlive);
        EmbeddedChannel encoder = new EmbeddedChannel(new HttpResponseEncoder());
        try {
            encoder.writeOutbound(resp);
            ByteBuf all = Unpooled.buffer();
            for (Object part; (part = encoder.readOutbound()) != null; ) {
                ByteBuf buf = (ByteBuf) part;
                all.writeBytes(buf);
                buf.release();
            }
            // On the heap: the collector frees it with its manifest (a few hundred bytes; the socket write copies
            // it into the transport's pooled direct buffer).
            byte[] exact = new byte[all.readableBytes()];
            all.readBytes(exact);
            all.release();
            return Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(exact));
        } finally {
            encoder.finishAndReleaseAll();
        }
    }

    public HttpResponseStatus status() {
        return status;
    }

    /** The headers as given (without Content-Length, Connection and the API version, which the head adds). */
    public HttpHeaders headers() {
        return headers;
    }

    public long contentLength() {
        return contentLength;
    }

    /** The encoded head for a connection that stays open ({@code keepAlive}) or closes after it: a duplicate. */
    ByteBuf encoded(boolean keepAlive) {
        return (keepAlive ? this.keepAlive : close).duplicate();
    }
}
