package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import java.io.ByteArrayOutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/** Test listener: records every callback, copies and releases every chunk, checks the callback order. */
class RecordingListener implements ResponseListener {
    static final long TIMEOUT_S = 20;

    final CompletableFuture<Void> done = new CompletableFuture<>();
    final AtomicInteger headersCalls = new AtomicInteger();
    final AtomicInteger chunks = new AtomicInteger();
    final AtomicReference<String> violation = new AtomicReference<>();
    final ByteArrayOutputStream body = new ByteArrayOutputStream();
    volatile int status = -1;
    volatile HttpHeaders headers;
    volatile Transfer transfer;
    volatile Consumer<Transfer> onHeadersHook;
    volatile BiConsumer<Transfer, Integer> onChunkHook;
    volatile boolean eventLoopOnly = true;

    @Override
    public void onHeaders(int status, HttpHeaders headers, Transfer transfer) {
        checkThread("onHeaders");
        if (headersCalls.incrementAndGet() != 1) {
            violation.compareAndSet(null, "onHeaders called twice");
        }
        if (done.isDone()) {
            violation.compareAndSet(null, "onHeaders after the end");
        }
        this.status = status;
        this.headers = headers;
        this.transfer = transfer;
        Consumer<Transfer> hook = onHeadersHook;
        if (hook != null) {
            hook.accept(transfer);
        }
    }

    @Override
    public void onContent(ByteBuf chunk) {
        try {
            checkThread("onContent");
            if (headersCalls.get() != 1 || done.isDone()) {
                violation.compareAndSet(null, "onContent out of order");
            }
            byte[] b = new byte[chunk.readableBytes()];
            chunk.readBytes(b);
            synchronized (body) {
                body.write(b, 0, b.length);
            }
        } finally {
            chunk.release();
        }
        int n = chunks.incrementAndGet();
        BiConsumer<Transfer, Integer> hook = onChunkHook;
        if (hook != null) {
            hook.accept(transfer, n);
        }
    }

    @Override
    public void onComplete() {
        checkThread("onComplete");
        if (headersCalls.get() != 1) {
            violation.compareAndSet(null, "onComplete without onHeaders");
        }
        if (!done.complete(null)) {
            violation.compareAndSet(null, "second terminal callback (onComplete)");
        }
    }

    @Override
    public void onError(Throwable cause) {
        checkThread("onError");
        if (!done.completeExceptionally(cause)) {
            violation.compareAndSet(null, "second terminal callback (onError)");
        }
    }

    private void checkThread(String what) {
        if (eventLoopOnly && !(Thread.currentThread() instanceof io.netty.util.concurrent.FastThreadLocalThread)) {
            violation.compareAndSet(null, what + " called on " + Thread.currentThread().getName());
        }
    }

    byte[] bytes() {
        synchronized (body) {
            return body.toByteArray();
        }
    }

    /** Waits for onComplete; fails the test on onError or timeout. */
    RecordingListener awaitComplete() throws Exception {
        try {
            done.get(TIMEOUT_S, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError("expected onComplete, got onError: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            fail("no onComplete within " + TIMEOUT_S + " s");
        }
        assertNull(violation.get());
        return this;
    }

    /** Waits for onError and returns its cause; fails the test on onComplete or timeout. */
    Throwable awaitError() throws Exception {
        try {
            done.get(TIMEOUT_S, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertNull(violation.get());
            return e.getCause();
        } catch (TimeoutException e) {
            fail("no onError within " + TIMEOUT_S + " s");
        }
        throw new AssertionError("expected onError, got onComplete (status " + status + ", "
                + bytes().length + " bytes)");
    }

    void assertStatus(int expected) {
        assertEquals(expected, status);
    }
}
