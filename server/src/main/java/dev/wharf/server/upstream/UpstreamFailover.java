package dev.wharf.server.upstream;

import dev.wharf.server.api.Failures;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tries a project's upstream endpoints in order: the next one after a connection error, a 5xx or a 429 (any other
 * answer, 404 included, is the answer). An endpoint whose {@link CircuitBreaker} is open is skipped; when every
 * endpoint is skipped they are all tried anyway, in order, because failing a request without asking anyone helps no
 * one. A project with one endpoint goes straight to the client, breakers unused.
 *
 * <p>A streamed exchange fails over only before its listener has had anything: the failure is seen on the response
 * headers (or as an error before them), that attempt's transfer is aborted and the next endpoint asked; the
 * listener sees one response, from the endpoint that answered. Once headers were handed on, a failure mid-body is
 * the listener's to handle, as without failover.
 *
 * <p>Threading: one request's attempts run one after another. Each attempt's listener is called on its
 * connection's event loop, and the next attempt is started as the last action of the callback that ended the one
 * before, so the hand-off orders everything an attempt wrote before the next one reads it. Breakers are shared and
 * thread-safe. The breaker of the endpoint about to be tried is asked ({@link CircuitBreaker#tryAcquire}) right
 * before that attempt starts, never ahead, so a half-open trial slot is only taken by a request that uses it.
 */
final class UpstreamFailover {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamFailover.class);

    private final UpstreamClient client;

    UpstreamFailover(UpstreamClient client) {
        this.client = client;
    }

    /** True for answers after which the next endpoint is tried. */
    static boolean isFailure(int status) {
        return UpstreamFailures.isServerTrouble(status);
    }

    /** A whole (small) response from the first endpoint that answers; else the last endpoint's outcome. */
    CompletableFuture<UpstreamResponse> fetch(Project project, UpstreamRequest request, int maxBody) {
        if (project.endpoints().size() <= 1) {
            return client.fetch(project.endpoint(), request, maxBody);
        }
        CompletableFuture<UpstreamResponse> result = new CompletableFuture<>();
        Cursor first = Cursor.first(project);
        fetchFrom(project, request, maxBody, first, result);
        return result;
    }

    /** Streams the response of the first endpoint that answers to {@code listener}. */
    void exchange(Project project, UpstreamRequest request, ResponseListener listener) {
        if (project.endpoints().size() <= 1) {
            client.exchange(project.endpoint(), request, listener);
            return;
        }
        exchangeFrom(project, request, listener, Cursor.first(project));
    }

    private void fetchFrom(Project project, UpstreamRequest request, int maxBody, Cursor at,
                           CompletableFuture<UpstreamResponse> result) {
        int i = at.index;
        client.fetch(project.endpoints().get(i), request, maxBody).whenComplete((resp, err) -> {
            if (err == null && !isFailure(resp.status())) {
                project.breaker(i).success();
                result.complete(resp);
                return;
            }
            String why = err != null ? message(err) : "HTTP " + resp.status();
            project.breaker(i).failure(why);
            Cursor next = at.next(project);
            if (next == null) {
                if (err != null) {
                    result.completeExceptionally(err);
                } else {
                    result.complete(resp);
                }
                return;
            }
            logFailover(project, request, i, why, next.index);
            fetchFrom(project, request, maxBody, next, result);
        });
    }

    private void exchangeFrom(Project project, UpstreamRequest request, ResponseListener listener, Cursor at) {
        int i = at.index;
        client.exchange(project.endpoints().get(i), request, new ResponseListener() {
            /** This attempt's response went to the listener: from here on everything is passed on. */
            private boolean handedOn;
            /** This attempt was given up for the next endpoint: ignore whatever it still says. */
            private boolean dropped;

            @Override
            public void onHeaders(int status, HttpHeaders headers, Transfer transfer) {
                if (isFailure(status)) {
                    project.breaker(i).failure("HTTP " + status);
                    Cursor next = at.next(project);
                    if (next != null) {
                        dropped = true;
                        transfer.abort();
                        logFailover(project, request, i, "HTTP " + status, next.index);
                        exchangeFrom(project, request, listener, next);
                        return;
                    }
                } else {
                    project.breaker(i).success();
                }
                handedOn = true;
                listener.onHeaders(status, headers, transfer);
            }

            @Override
            public void onContent(ByteBuf chunk) {
                if (dropped) {
                    chunk.release();
                    return;
                }
                listener.onContent(chunk);
            }

            @Override
            public void onComplete() {
                if (!dropped) {
                    listener.onComplete();
                }
            }

            @Override
            public void onError(Throwable cause) {
                if (dropped) {
                    return;
                }
                project.breaker(i).failure(message(cause));
                if (!handedOn) {
                    Cursor next = at.next(project);
                    if (next != null) {
                        dropped = true;
                        logFailover(project, request, i, message(cause), next.index);
                        exchangeFrom(project, request, listener, next);
                        return;
                    }
                }
                listener.onError(cause);
            }
        });
    }

    private static void logFailover(Project project, UpstreamRequest request, int failed, String why, int next) {
        LOG.debug("project {}: {} {} failed at {} ({}); trying {}", project.name(), request.method(), request.path(),
                project.endpoints().get(failed).base(), why, project.endpoints().get(next).base());
    }

    private static String message(Throwable t) {
        Throwable c = Failures.unwrap(t);
        return c.getMessage() != null ? c.getMessage() : c.getClass().getSimpleName();
    }

    /**
     * Where a request stands in its project's endpoint list. Normally only endpoints whose breaker lets the request
     * through are tried; when none did at the start, the request is {@code forced} through all of them in order.
     */
    private record Cursor(int index, boolean forced) {
        static Cursor first(Project project) {
            Cursor c = find(project, 0);
            return c != null ? c : new Cursor(0, true);
        }

        /** The next endpoint to try after this one, or null when there is none. */
        Cursor next(Project project) {
            if (forced) {
                return index + 1 < project.endpoints().size() ? new Cursor(index + 1, true) : null;
            }
            return find(project, index + 1);
        }

        /** The first endpoint from {@code from} on whose breaker lets a request through (and is now used). */
        private static Cursor find(Project project, int from) {
            for (int i = from; i < project.endpoints().size(); i++) {
                if (project.breaker(i).tryAcquire()) {
                    return new Cursor(i, false);
                }
            }
            return null;
        }
    }
}
