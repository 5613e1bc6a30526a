package dev.wharf.server.upstream;

import io.netty.buffer.ByteBuf;

/**
 * Where {@link Upstreams#stream} delivers a blob's bytes once the upstream's answer passed its checks (200, a
 * Content-Length, a Docker-Content-Digest that names the digest asked for). Calls arrive in order on the upstream
 * connection's event loop: {@code begin}, any number of {@code offer}, then {@code complete} or {@code fail}; or
 * {@code fail} alone when the answer was refused. Failures that are the upstream's answer arrive already worded as
 * the client's error (a {@code RegistryException}).
 */
public interface BlobSink {
    /** The body of {@code length} bytes follows; {@code transfer} pauses, resumes or aborts it. */
    void begin(long length, ResponseListener.Transfer transfer);

    /** A body chunk, now owned by the sink. Returns false when the upstream should pause (backpressure). */
    boolean offer(ByteBuf chunk);

    /** The body ended normally. */
    void complete();

    /** The transfer failed or was refused. */
    void fail(Throwable cause);
}
