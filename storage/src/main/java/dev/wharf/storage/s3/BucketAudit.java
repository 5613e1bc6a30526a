package dev.wharf.storage.s3;

import dev.wharf.storage.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * {@code wharf du} and {@code wharf verify} against the bucket: usage per project from the link and blob objects,
 * and a re-hash of every blob object, streamed (never held whole), deleting an object whose bytes do not match its
 * key so the next pull fetches it again. Single-threaded: an operator's command, not the serving path.
 */
public final class BucketAudit {
    private final S3Tier tier;

    public BucketAudit(S3Tier tier) {
        this.tier = tier;
    }

    /** One project's share of the bucket: blobs it links that are there, their bytes, links whose blob is not. */
    public record ProjectUsage(String project, long blobs, long bytes, long missing) {
    }

    /** The bucket's blobs and each project's share. */
    public record Usage(List<ProjectUsage> projects, long blobs, long bytes) {
    }

    public Usage usage() throws IOException {
        Map<Digest, Long> sizes = new HashMap<>();
        tier.blobs().scan((digest, size, lastUsed) -> sizes.put(digest, size));
        List<ProjectUsage> projects = new ArrayList<>();
        for (String project : tier.projects()) {
            long[] c = new long[3];
            tier.remote().links().forEach(project, d -> {
                Long size = sizes.get(d);
                if (size != null) {
                    c[0]++;
                    c[1] += size;
                } else {
                    c[2]++;
                }
            });
            projects.add(new ProjectUsage(project, c[0], c[1], c[2]));
        }
        return new Usage(projects, sizes.size(), sizes.values().stream().mapToLong(Long::longValue).sum());
    }

    /** What {@link #verify} found. */
    public record Verified(long checked, long bytes, long corrupt, long unreadable) {
    }

    /** Re-hashes every blob object; reports each corrupt (deleted) or unreadable one to {@code report}. */
    public Verified verify(Consumer<String> report) throws IOException {
        List<Digest> digests = new ArrayList<>();
        tier.blobs().forEach(digests::add);
        long checked = 0;
        long bytes = 0;
        long corrupt = 0;
        long unreadable = 0;
        byte[] buffer = new byte[1 << 16];
        for (Digest digest : digests) {
            checked++;
            try {
                Optional<InputStream> in = tier.blobs().open(digest);
                if (in.isEmpty()) {
                    continue; // deleted meanwhile
                }
                MessageDigest hash = digest.newMessageDigest();
                long size = 0;
                try (InputStream body = in.get()) {
                    int n;
                    while ((n = body.read(buffer)) > 0) {
                        hash.update(buffer, 0, n);
                        size += n;
                    }
                }
                bytes += size;
                Digest actual = Digest.of(digest.algorithm(), hash);
                if (!actual.equals(digest)) {
                    corrupt++;
                    tier.blobs().delete(digest);
                    report.accept("CORRUPT " + digest + " in the bucket: its " + size + " bytes hash to " + actual
                            + "; deleted from the bucket");
                }
            } catch (IOException | RuntimeException e) {
                unreadable++;
                report.accept("UNREADABLE " + digest + " in the bucket: " + e.getMessage() + " (left in place)");
            }
        }
        return new Verified(checked, bytes, corrupt, unreadable);
    }
}
