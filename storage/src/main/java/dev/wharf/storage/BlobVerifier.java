package dev.wharf.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Optional;

/**
 * Re-hashes committed blobs and quarantines the ones whose bytes no longer match their digest ({@code wharf verify}).
 *
 * <p>Safe beside a running server, in this process or another: it reads only files under blobs/, which appear
 * there complete (a fill or a small write is renamed into place only after its digest was checked), so a hash can
 * never see a half-written blob. A mismatch is moved out with one atomic rename ({@link ContentStore#quarantine});
 * a server then finds the blob missing and fetches it again. Between the hash and the rename a good copy could in
 * principle have replaced the bad file (eviction deleted it and a fill committed it again), so the quarantined file
 * is hashed once more, and put back if it matches after all.
 *
 * <p>Thread-safety: stateless apart from the store; {@link #verify} may run on many threads at once.
 */
public final class BlobVerifier {
    private static final int BUFFER = 256 << 10;

    /** What one blob's check found. */
    public enum Outcome {
        /** The bytes hash to the digest. */
        OK,
        /** They do not: the file was moved to quarantine. */
        CORRUPT,
        /** The blob was gone by the time it was read (evicted or quarantined meanwhile). */
        VANISHED
    }

    /**
     * One blob's check.
     *
     * @param digest      the blob's name, what its bytes should hash to
     * @param outcome     what was found
     * @param size        bytes hashed
     * @param actual      what the bytes hash to (differs from digest only when CORRUPT; null when VANISHED)
     * @param quarantined where a CORRUPT blob went, else null
     */
    public record Result(Digest digest, Outcome outcome, long size, Digest actual, Path quarantined) {
    }

    private final ContentStore store;

    public BlobVerifier(ContentStore store) {
        this.store = store;
    }

    /**
     * Hashes the committed blob {@code digest}; a mismatch is quarantined.
     *
     * @throws IOException if the file cannot be read (it is left where it is: a read error is not proof of
     *                     corruption) or cannot be moved
     */
    public Result verify(Digest digest) throws IOException {
        Hashed first;
        try {
            first = hash(store.blobPath(digest), digest);
        } catch (NoSuchFileException e) {
            return new Result(digest, Outcome.VANISHED, 0, null, null);
        }
        if (first.actual().equals(digest)) {
            return new Result(digest, Outcome.OK, first.size(), digest, null);
        }
        Optional<Path> moved = store.quarantine(digest);
        if (moved.isEmpty()) {
            return new Result(digest, Outcome.VANISHED, first.size(), first.actual(), null);
        }
        Hashed second = hash(moved.get(), digest);
        if (second.actual().equals(digest)) {
            store.restoreFromQuarantine(moved.get(), digest);
            return new Result(digest, Outcome.OK, second.size(), digest, null);
        }
        return new Result(digest, Outcome.CORRUPT, second.size(), second.actual(), moved.get());
    }

    private record Hashed(Digest actual, long size) {
    }

    private static Hashed hash(Path file, Digest digest) throws IOException {
        MessageDigest md = digest.newMessageDigest();
        ByteBuffer buffer = ByteBuffer.allocate(BUFFER);
        long size = 0;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            int n;
            while ((n = channel.read(buffer)) >= 0) {
                if (n == 0) {
                    continue;
                }
                buffer.flip();
                md.update(buffer);
                buffer.clear();
                size += n;
            }
        }
        return new Hashed(Digest.of(digest.algorithm(), md), size);
    }
}
