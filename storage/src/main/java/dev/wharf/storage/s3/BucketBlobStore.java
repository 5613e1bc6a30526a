package dev.wharf.storage.s3;

import dev.wharf.storage.BlobStore;
import dev.wharf.storage.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Blobs as objects, {@code <prefix>blobs/<alg>/<2 hex>/<hex>}: the {@link BlobStore} of the bucket. Used for small
 * content (manifests) and by du/verify; large blobs are written by {@link MultipartBlobUpload} from a fill. An
 * object appears under its key only whole (a PUT or a completed multipart upload is atomic in S3). No last-use
 * time: recency is the hot tier's business.
 */
public final class BucketBlobStore implements BlobStore {
    private final S3Bucket bucket;
    private final ObjectKeys keys;

    BucketBlobStore(S3Bucket bucket, ObjectKeys keys) {
        this.bucket = bucket;
        this.keys = keys;
    }

    @Override
    public boolean exists(Digest digest) {
        try {
            return bucket.size(keys.blob(digest)).isPresent();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The stored size, or empty. */
    public Optional<Long> size(Digest digest) throws IOException {
        return bucket.size(keys.blob(digest));
    }

    /** Uploads the verified file with one PUT, then deletes it (the contract's "moved"). */
    @Override
    public void commit(Path verified, Digest digest) throws IOException {
        try (FileChannel file = FileChannel.open(verified, StandardOpenOption.READ)) {
            long size = file.size();
            bucket.put(keys.blob(digest), () -> new RangeInputStream(file, 0, size), size);
        } finally {
            Files.deleteIfExists(verified);
        }
    }

    @Override
    public Optional<byte[]> readSmall(Digest digest, int maxBytes) throws IOException {
        return bucket.readSmall(keys.blob(digest), maxBytes);
    }

    @Override
    public boolean delete(Digest digest) throws IOException {
        return bucket.delete(keys.blob(digest));
    }

    @Override
    public boolean setLastUsed(Digest digest, long epochMillis) {
        return true;
    }

    @Override
    public void forEach(Consumer<Digest> action) throws IOException {
        scan((digest, size, lastUsed) -> action.accept(digest));
    }

    @Override
    public void scan(Found found) throws IOException {
        bucket.list(keys.blobs(), o -> {
            Digest digest = keys.blobDigest(o.key());
            if (digest != null) {
                found.blob(digest, o.size(), o.lastModified() == null ? 0 : o.lastModified().toEpochMilli());
            }
        });
    }

    /** The object's bytes as a stream for a GET (the caller closes it); empty if there is none. */
    public Optional<java.io.InputStream> open(Digest digest) throws IOException {
        return bucket.open(keys.blob(digest)).map(in -> in);
    }

    static java.io.InputStream stream(FileChannel file) {
        return Channels.newInputStream(file);
    }
}
