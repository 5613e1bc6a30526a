package dev.wharf.server.registry;

import dev.wharf.server.api.ByteRange;
import dev.wharf.server.api.CacheResult;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.FillStream;
import dev.wharf.server.http.Route;
import dev.wharf.server.pullthrough.BlobSource;
import dev.wharf.storage.BlobLease;
import dev.wharf.storage.Digest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;

/**
 * {@code GET/HEAD /v2/<name>/blobs/<digest>}: asks the {@link BlobSource}, then sends a stored blob zero-copy, or
 * streams a fill in progress ({@link FillStream}), whole or as a single {@code Range}.
 *
 * <p>Every request takes a {@link BlobLease} on its digest first and releases it when its response ends, so the
 * blob it serves (stored, or committed by a fill while it streams) is never evicted under it.
 */
public final class BlobEndpoint {
    private final BlobSource blobs;

    public BlobEndpoint(BlobSource blobs) {
        this.blobs = blobs;
    }

    public void handle(Exchange ex, Route.Blob route) {
        Digest digest = route.digest();
        BlobLease lease = blobs.lease(digest);
        ex.whenFinished(lease::close);
        ex.answer(blobs.open(route.project(), route.name(), digest, ex.isHead()), answer -> {
            if (answer instanceof BlobSource.Stored stored) {
                sendStored(ex, digest, stored);
            } else if (answer instanceof BlobSource.Streamed streamed) {
                stream(ex, streamed);
            } else if (answer instanceof BlobSource.Redirect redirect) {
                // As distribution's redirect option: the client fetches the bytes from the bucket itself.
                ex.cacheResult(redirect.cache());
                HttpHeaders h = blobHeaders(digest);
                h.set(HttpHeaderNames.LOCATION, redirect.location().toString());
                ex.headersOnly(HttpResponseStatus.TEMPORARY_REDIRECT, h, 0);
            } else if (answer instanceof BlobSource.Remote remote) {
                ex.cacheResult(CacheResult.MISS);
                ex.headersOnly(HttpResponseStatus.OK, blobHeaders(digest), remote.size());
            }
        });
    }

    private static void sendStored(Exchange ex, Digest digest, BlobSource.Stored stored) {
        ex.cacheResult(stored.cache());
        long size = stored.size();
        ByteRange range;
        try {
            range = ByteRange.parse(ex.request().headers().get(HttpHeaderNames.RANGE), size);
        } catch (RegistryException e) {
            closeQuietly(stored);
            ex.error(e);
            return;
        }
        HttpHeaders h = blobHeaders(digest);
        if (range == null) {
            send(ex, HttpResponseStatus.OK, h, stored, 0, size);
        } else {
            h.set(HttpHeaderNames.CONTENT_RANGE, range.contentRange(size));
            send(ex, HttpResponseStatus.PARTIAL_CONTENT, h, stored, range.start(), range.length());
        }
    }

    private static void send(Exchange ex, HttpResponseStatus status, HttpHeaders h, BlobSource.Stored stored,
                             long offset, long length) {
        if (stored.file() == null) {
            ex.headersOnly(status, h, length);
        } else {
            ex.file(status, h, stored.file(), offset, length);
        }
    }

    private static void stream(Exchange ex, BlobSource.Streamed streamed) {
        var fill = streamed.fill();
        var reader = streamed.reader();
        ex.cacheResult(CacheResult.MISS);
        ex.fill(fill.digest(), streamed.joined());
        ex.whenFinished(reader::close);
        ex.answer(fill.size(), size -> {
            ByteRange range;
            try {
                range = ByteRange.parse(ex.request().headers().get(HttpHeaderNames.RANGE), size);
            } catch (RegistryException e) {
                ex.error(e);
                return;
            }
            HttpHeaders h = blobHeaders(fill.digest());
            long start = 0;
            long end = size;
            HttpResponseStatus status = HttpResponseStatus.OK;
            if (range != null) {
                h.set(HttpHeaderNames.CONTENT_RANGE, range.contentRange(size));
                start = range.start();
                end = range.end();
                status = HttpResponseStatus.PARTIAL_CONTENT;
            }
            if (ex.startStream(status, h, end - start)) {
                FillStream.start(ex, fill, reader, start, end, size);
            }
        });
    }

    private static void closeQuietly(BlobSource.Stored stored) {
        if (stored.file() != null) {
            try {
                stored.file().close();
            } catch (IOException ignored) {
                // nothing useful to do
            }
        }
    }

    private static HttpHeaders blobHeaders(Digest digest) {
        return new DefaultHttpHeaders()
                .set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream")
                .set("Docker-Content-Digest", digest.toString())
                .set(HttpHeaderNames.ACCEPT_RANGES, "bytes")
                .set(HttpHeaderNames.ETAG, "\"" + digest + "\"");
    }
}
