package dev.wharf.server.upstream;

import io.netty.channel.Channel;
import io.netty.channel.pool.FixedChannelPool;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.net.URI;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One logical request across its attempts: redirects, retries of a reused connection that turned out to be dead, and
 * the retries {@link UpstreamAuth} asks for. Each attempt runs on one pooled connection through a
 * {@link ResponseHandler}; the exchange decides what each response means and delivers the one terminal callback.
 *
 * <p>Threading: the state of an exchange (its own fields and its {@link UpstreamAuth}'s) is touched by one step at
 * a time. Each step starts the next only as its last action, through a Netty future, an event-loop task or a
 * CompletableFuture, which orders the writes before the next step's reads. Only {@link #finished} is read across
 * threads. The full argument is in docs/architecture.md, "Upstream client".
 */
final class UpstreamExchange {

    private static final Logger log = LoggerFactory.getLogger(UpstreamExchange.class);

    static final int MAX_REDIRECTS = 5;
    /** Retries of a request whose reused keep-alive connection died before any response byte. */
    static final int MAX_STALE_RETRIES = 2;

    private final UpstreamClient client;
    private final UpstreamEndpoint endpoint;
    private final UpstreamRequest request;
    private final ResponseListener listener;
    private final EventExecutor loop;
    private final UpstreamAuth auth;
    /** A {@link UpstreamClient#fetch}: the whole exchange has a deadline; else a streamed body has a minimum rate. */
    private final boolean whole;

    private URI uri;
    private int redirects;
    private int staleRetries;
    private boolean poolRetried;
    /** Set once the listener has had its terminal callback, or the transfer was aborted. */
    private volatile boolean finished;
    /** The attempt in flight, for the deadline to abort; written when a connection is had, read on {@link #loop}. */
    private volatile ResponseHandler current;
    /** The deadline's timer, cancelled when the exchange ends so a finished exchange is not kept until it fires. */
    private volatile io.netty.util.concurrent.ScheduledFuture<?> deadlineTimer;

    UpstreamExchange(UpstreamClient client, UpstreamEndpoint endpoint, UpstreamRequest request,
            ResponseListener listener, EventExecutor loop, boolean whole) {
        this.client = client;
        this.endpoint = endpoint;
        this.request = request;
        this.listener = listener;
        this.loop = loop;
        this.whole = whole;
        this.auth = new UpstreamAuth(this, endpoint, request, client.challenges(), client.tokens());
    }

    /** Starts the exchange: its deadline, if it has one, then the first attempt. */
    void start() {
        if (whole) {
            long deadline = client.limits().manifestDeadline().toNanos();
            try {
                deadlineTimer = loop.schedule(this::deadlinePassed, deadline, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException shutDown) {
                fail(UpstreamFailures.CLIENT_CLOSED, null);
                return;
            }
        }
        startOver();
    }

    /** The overall deadline passed: the exchange fails, and its connection (if any) is closed. On {@link #loop}. */
    private void deadlinePassed() {
        if (finished) {
            return;
        }
        fail(UpstreamFailures.deadlinePassed(client.limits().manifestDeadline()), null);
        ResponseHandler h = current;
        if (h != null) {
            h.abort();
        }
    }

    /** Starts (or, with fresh credentials, starts over) at the endpoint's URL. */
    void startOver() {
        try {
            uri = UpstreamUrls.firstUri(endpoint, request);
        } catch (IllegalArgumentException e) {
            fail(UpstreamFailures.badRequestUrl(e), e);
            return;
        }
        auth.sendFirst();
    }

    /** Sends the request to {@link #uri} on a pooled connection. */
    void send() {
        if (finished) {
            return;
        }
        if (client.isClosed()) {
            fail(UpstreamFailures.CLIENT_CLOSED, null);
            return;
        }
        FixedChannelPool pool;
        try {
            pool = client.pools().pool(uri, endpoint);
        } catch (SSLException | RuntimeException e) {
            fail(UpstreamFailures.cannotSetUpConnection(e), e);
            return;
        }
        pool.acquire().addListener((Future<Channel> f) -> {
            if (!f.isSuccess() && f.cause() instanceof IllegalStateException && !poolRetried && !client.isClosed()) {
                poolRetried = true; // the pool was dropped (idle) between the look-up and the acquire: look again
                send();
                return;
            }
            if (!f.isSuccess()) {
                Throwable c = f.cause();
                fail(UpstreamFailures.connectFailed(uri, c, client.pools()), c);
                return;
            }
            Channel ch = f.getNow();
            ResponseHandler handler = new ResponseHandler(this, pool, ch, client.readIdleTimeoutNanos(),
                    whole ? 0 : client.limits().minUpstreamRate(), client.limits().minUpstreamRateWindow().toNanos());
            current = handler;
            if (ch.eventLoop().inEventLoop()) {
                handler.start();
            } else {
                ch.eventLoop().execute(handler::start);
            }
        });
    }

    /**
     * Decides what a response means: null when it is final (for the listener), else the step to run once its body
     * has been drained (a retry with credentials, a redirect, or a failure).
     */
    Runnable nextStep(HttpResponse r) {
        int status = r.status().code();
        Runnable next = null;
        if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
            next = afterRedirect(r);
        } else if (status == 401) {
            next = auth.onUnauthorized(r);
        }
        return next != null ? next : auth.refreshIfRejected(status);
    }

    private Runnable afterRedirect(HttpResponse r) {
        String location = r.headers().get(HttpHeaderNames.LOCATION);
        if (location == null || location.isBlank()) {
            return null;
        }
        if (redirects >= MAX_REDIRECTS) {
            return () -> fail(UpstreamFailures.tooManyRedirects(MAX_REDIRECTS), null);
        }
        URI next;
        try {
            next = UpstreamUrls.redirectTarget(uri, location);
        } catch (IllegalArgumentException e) {
            return () -> fail(UpstreamFailures.badRedirect(e), e);
        }
        return () -> redirect(next);
    }

    /** Follows a redirect once {@link RedirectGuard} allows its target; never connects to a refused one. */
    private void redirect(URI next) {
        redirects++;
        client.redirects().check(endpoint, uri, next).whenComplete((refused, err) -> {
            if (refused != null || err != null) {
                fail(refused != null ? refused : UpstreamFailures.rootMessage(err), err);
            } else {
                follow(next);
            }
        });
    }

    private void follow(URI next) {
        if (!UpstreamUrls.origin(uri).equals(UpstreamUrls.origin(next))) {
            auth.dropCredentials();
        }
        log.debug("{} {} redirected to {}", request.method(), UpstreamUrls.redact(uri), UpstreamUrls.redact(next));
        uri = next;
        send();
    }

    /**
     * An attempt failed: retried when a reused keep-alive connection died before any response (the request never got
     * anywhere), else the exchange fails.
     */
    void connectionFailed(Throwable cause, boolean beforeResponse, boolean reused) {
        if (beforeResponse && reused && staleRetries < MAX_STALE_RETRIES
                && !(cause instanceof UpstreamFailures.ReadTimeout) && !finished) {
            staleRetries++;
            log.debug("reused connection to {} failed before a response ({}); retrying", UpstreamUrls.redact(uri),
                    cause.toString());
            send();
            return;
        }
        fail(UpstreamFailures.transferFailed(cause), cause);
    }

    URI uri() {
        return uri;
    }

    UpstreamRequest request() {
        return request;
    }

    ResponseListener listener() {
        return listener;
    }

    FullHttpRequest buildRequest() {
        return RequestBuilder.build(uri, request, auth.authorization());
    }

    boolean isFinished() {
        return finished;
    }

    /** The listener has had its terminal callback, or gave up: no further callbacks. */
    void markFinished() {
        finished = true;
        cancelDeadline();
    }

    private void cancelDeadline() {
        var t = deadlineTimer;
        if (t != null) {
            t.cancel(false);
        }
    }

    /** Fails the exchange with a message naming the project and the upstream URL. */
    void fail(String what, Throwable cause) {
        UpstreamException e = UpstreamFailures.exchangeFailed(endpoint, request, uri, what, cause);
        if (loop.inEventLoop()) {
            deliverError(e);
        } else {
            try {
                loop.execute(() -> deliverError(e));
            } catch (RejectedExecutionException shutDown) {
                deliverError(e); // the event loops are gone; the caller's thread is the only one left
            }
        }
    }

    private void deliverError(Throwable e) {
        if (finished) {
            return;
        }
        finished = true;
        cancelDeadline();
        log.debug("{}", e.getMessage());
        try {
            listener.onError(e);
        } catch (RuntimeException t) {
            log.warn("response listener threw in onError", t);
        }
    }
}
