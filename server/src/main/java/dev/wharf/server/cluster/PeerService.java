package dev.wharf.server.cluster;

import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.http.FillStream;
import dev.wharf.server.http.PeerEndpoint;
import dev.wharf.storage.BlobLease;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.fill.BlobFill;
import dev.wharf.storage.fill.Fills;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * What a replica serves the other replicas on its internal port: {@code GET /cluster/v1/blobs/<digest>} (the fill
 * in progress, streamed as it arrives with its last byte held back until the digest checks, or the committed blob)
 * and {@code GET /cluster/v1/manifests/<digest>} (a stored manifest's bytes). Every request must carry the cluster's
 * shared secret in {@link PeerClient#SECRET_HEADER} (compared in constant time); no project, tag or client
 * credential ever crosses this port. Disk work runs on the storage executor, never on the event loop.
 */
final class PeerService implements PeerEndpoint {
    private static final String BLOBS = "/cluster/v1/blobs/";
    private static final String MANIFESTS = "/cluster/v1/manifests/";

    private final byte[] secret;
    private final ContentStore store;
    private final Fills fills;
    private final Executor io;

    PeerService(String secret, ContentStore store, Fills fills, Executor io) {
        this.secret = secret.getBytes(StandardCharsets.UTF_8);
        this.store = store;
        this.fills = fills;
        this.io = io;
    }

    @Override
    public void handle(Exchange ex) {
        String given = ex.request().headers().get(PeerClient.SECRET_HEADER);
        if (given == null || !MessageDigest.isEqual(secret, given.getBytes(StandardCharsets.UTF_8))) {
            ex.closeAfterResponse();
            ex.error(new RegistryException(ErrorCode.UNAUTHORIZED, HttpResponseStatus.UNAUTHORIZED,
                    "the internal cluster port needs the cluster's secret"));
            return;
        }
        if (!ex.request().method().equals(HttpMethod.GET)) {
            ex.error(new RegistryException(ErrorCode.UNSUPPORTED, HttpResponseStatus.METHOD_NOT_ALLOWED,
                    "the internal cluster port answers GET only"));
            return;
        }
        String path = ex.request().uri();
        try {
            if (path.startsWith(BLOBS)) {
                blob(ex, Digest.parse(path.substring(BLOBS.length())));
            } else if (path.startsWith(MANIFESTS)) {
                manifest(ex, Digest.parse(path.substring(MANIFESTS.length())));
            } else {
                ex.error(RegistryException.notFound(ErrorCode.UNSUPPORTED, "not a cluster path"));
            }
        } catch (IllegalArgumentException e) {
            ex.error(RegistryException.badRequest(ErrorCode.DIGEST_INVALID, "invalid digest"));
        }
    }

    private void blob(Exchange ex, Digest digest) {
        BlobFill fill = fills.running(digest);
        BlobFill.Reader reader = fill == null ? null : fill.newReader();
        if (reader == null) {
            stored(ex, digest);
            return;
        }
        // Headers go out once the upstream announced the size; a fill that fails first is a 404 (try elsewhere).
        fill.size().whenComplete((size, err) -> {
            if (err != null) {
                reader.close();
                ex.error(RegistryException.notFound(ErrorCode.BLOB_UNKNOWN, "the fill of " + digest + " failed"));
                return;
            }
            if (!ex.startStream(HttpResponseStatus.OK, octets(), size)) {
                reader.close();
                return;
            }
            FillStream.start(ex, fill, reader, 0, size, size);
        });
    }

    private void stored(Exchange ex, Digest digest) {
        BlobLease lease = store.use(digest); // pinned against eviction while it is sent
        ex.whenFinished(lease::close);
        CompletableFuture.supplyAsync(() -> open(digest), io).whenComplete((file, err) -> {
            if (err != null) {
                ex.fail(err);
            } else if (file.isEmpty()) {
                ex.error(RegistryException.notFound(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " is not here"));
            } else {
                try {
                    ex.file(HttpResponseStatus.OK, octets(), file.get(), 0, file.get().size());
                } catch (IOException e) {
                    ex.fail(e);
                }
            }
        });
    }

    private Optional<FileChannel> open(Digest digest) {
        if (store.blobSize(digest).isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(FileChannel.open(store.blobPath(digest), StandardOpenOption.READ));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void manifest(Exchange ex, Digest digest) {
        CompletableFuture.supplyAsync(() -> {
            try {
                return store.readSmall(digest, PeerClient.MAX_MANIFEST);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, io).whenComplete((body, err) -> {
            if (err != null) {
                ex.fail(err);
            } else if (body.isEmpty()) {
                ex.error(RegistryException.notFound(ErrorCode.MANIFEST_UNKNOWN, "manifest " + digest + " not here"));
            } else {
                ex.bytes(HttpResponseStatus.OK, octets(), body.get());
            }
        });
    }

    private static HttpHeaders octets() {
        return new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream");
    }
}
