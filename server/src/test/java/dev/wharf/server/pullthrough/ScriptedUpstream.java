package dev.wharf.server.pullthrough;

import dev.wharf.server.config.UpstreamLimits;
import dev.wharf.server.upstream.BlobSink;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.ResponseListener;
import dev.wharf.server.upstream.UpstreamCall;
import dev.wharf.server.upstream.UpstreamRegistry;
import dev.wharf.server.upstream.UpstreamResponse;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * An upstream registry scripted per call, for unit tests of the pull-through layer through its
 * {@link UpstreamRegistry} interface. The integration tests pull through wharf from a real registry; this fake exists
 * because these tests pin down what the layer asks for (which calls, how many) and answer faults on cue (a 503 during
 * revalidation, wrong bytes for a digest) without a network. Every call is recorded; an unscripted call fails the
 * future, so a test notices any call it did not expect.
 */
final class ScriptedUpstream implements UpstreamRegistry {
    private final List<UpstreamCall> calls = new CopyOnWriteArrayList<>();
    private final ConcurrentHashMap<Class<?>, Function<UpstreamCall, CompletableFuture<UpstreamResponse>>> answers =
            new ConcurrentHashMap<>();
    private volatile byte[] blob;
    private volatile UpstreamLimits limits = UpstreamLimits.DEFAULTS;

    /** Answers every call of {@code type} with {@code answer}. */
    <T extends UpstreamCall> ScriptedUpstream on(Class<T> type, Function<T, CompletableFuture<UpstreamResponse>> answer) {
        answers.put(type, call -> answer.apply(type.cast(call)));
        return this;
    }

    /** Streams {@code bytes} for every blob GET. */
    ScriptedUpstream blob(byte[] bytes) {
        this.blob = bytes;
        return this;
    }

    /** The limits the pull-through layer is told about. */
    ScriptedUpstream limits(UpstreamLimits l) {
        this.limits = l;
        return this;
    }

    @Override
    public UpstreamLimits limits() {
        return limits;
    }

    List<UpstreamCall> calls() {
        return calls;
    }

    long count(Class<? extends UpstreamCall> type) {
        return calls.stream().filter(type::isInstance).count();
    }

    static CompletableFuture<UpstreamResponse> answer(int status, byte[] body, String... headers) {
        HttpHeaders h = new DefaultHttpHeaders();
        for (int i = 0; i < headers.length; i += 2) {
            h.set(headers[i], headers[i + 1]);
        }
        return CompletableFuture.completedFuture(new UpstreamResponse(status, h, body));
    }

    @Override
    public CompletableFuture<UpstreamResponse> fetch(Project project, UpstreamCall call) {
        calls.add(call);
        var answer = answers.get(call.getClass());
        if (answer == null) {
            return CompletableFuture.failedFuture(new AssertionError("unexpected upstream call " + call));
        }
        return answer.apply(call);
    }

    @Override
    public void stream(Project project, UpstreamCall.BlobGet call, BlobSink sink) {
        calls.add(call);
        byte[] bytes = blob;
        if (bytes == null) {
            sink.fail(new AssertionError("unexpected blob GET " + call));
            return;
        }
        sink.begin(bytes.length, new ResponseListener.Transfer() {
            @Override
            public void pause() {
            }

            @Override
            public void resume() {
            }

            @Override
            public void abort() {
            }
        });
        sink.offer(Unpooled.wrappedBuffer(bytes));
        sink.complete();
    }
}
