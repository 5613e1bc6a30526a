package dev.wharf.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;

/**
 * The HTTP/1.1 server codec of a client connection: Netty's {@code HttpServerCodec} (a request decoder, a response
 * encoder that knows which responses answer a HEAD), with one difference. A request carrying both
 * {@code Content-Length} and {@code Transfer-Encoding: chunked} is marked as failed to decode, so it gets a 400 and its
 * connection is closed, as RFC 9112 section 6.3 asks; Netty 4.1's decoder would drop the {@code Content-Length}
 * and go on, which is how requests are smuggled past a proxy that reads the other length. A response that comes already
 * encoded ({@link EncodedResponse}: a prepared manifest answer) passes the encoder as it is. Both handlers run on the
 * connection's event loop, so the queue of request methods needs no lock.
 */
final class RequestCodec extends CombinedChannelDuplexHandler<RequestCodec.Decoder, RequestCodec.Encoder> {
    /** Why a request with both lengths failed. */
    static final class AmbiguousLengthException extends IllegalArgumentException {
        AmbiguousLengthException() {
            super("a request with both Content-Length and Transfer-Encoding");
        }
    }

    private final Queue<HttpMethod> methods = new ArrayDeque<>();

    RequestCodec(int maxInitialLine, int maxHeaderSize, int maxChunk) {
        HttpDecoderConfig config = new HttpDecoderConfig().setMaxInitialLineLength(maxInitialLine)
                .setMaxHeaderSize(maxHeaderSize).setMaxChunkSize(maxChunk);
        init(new Decoder(config), new Encoder());
    }

    final class Decoder extends HttpRequestDecoder {
        Decoder(HttpDecoderConfig config) {
            super(config);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            int before = out.size();
            super.decode(ctx, buffer, out);
            for (int i = before; i < out.size(); i++) {
                if (out.get(i) instanceof HttpRequest req) {
                    methods.add(req.method());
                }
            }
        }

        @Override
        protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
            super.handleTransferEncodingChunkedWithContentLength(message);
            message.setDecoderResult(DecoderResult.failure(new AmbiguousLengthException()));
        }
    }

    final class Encoder extends HttpResponseEncoder {
        /** A response already in bytes goes out as it is; it answers a request like any other. */
        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
            if (msg instanceof EncodedResponse encoded) {
                methods.poll();
                ctx.write(encoded.bytes(), promise);
                return;
            }
            super.write(ctx, msg, promise);
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse msg) {
            HttpMethod method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
        }
    }
}
