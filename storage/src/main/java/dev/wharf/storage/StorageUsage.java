package dev.wharf.storage;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Bytes on disk, per project and in all ({@code wharf du}, the admin API's project list).
 *
 * <p>A project uses the blobs it links (those its upstream served or confirmed) that are stored; a blob shared by
 * two projects counts in both, once in the total. Links whose blob is gone (evicted, quarantined) count as
 * {@code missing}. Tag and link files (a few hundred bytes each) are not counted. Measured from the files
 * themselves, so it may run beside a running server; the numbers are then a moment's snapshot.
 *
 * @param projects         per project, sorted by name
 * @param blobs            committed blobs in the store
 * @param bytes            their total size
 * @param quarantinedFiles files under quarantine/
 * @param quarantinedBytes their total size
 */
public record StorageUsage(List<ProjectUsage> projects, long blobs, long bytes, long quarantinedFiles,
                           long quarantinedBytes) {
    public StorageUsage {
        projects = List.copyOf(projects);
    }

    /**
     * One project's share.
     *
     * @param project name
     * @param blobs   stored blobs it links
     * @param bytes   their total size
     * @param missing linked blobs no longer stored (fetched again on the next pull)
     */
    public record ProjectUsage(String project, long blobs, long bytes, long missing) {
    }

    /** Measures every project with a directory under projects/. */
    public static StorageUsage measure(ContentStore store) throws IOException {
        List<ProjectUsage> projects = new ArrayList<>();
        for (String project : store.projectNames()) {
            projects.add(measure(store, project));
        }
        long[] quarantine = new long[2];
        Path dir = store.quarantineDir();
        if (Files.isDirectory(dir)) {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile()) {
                        quarantine[0]++;
                        quarantine[1] += attrs.size();
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) {
                    return FileVisitResult.CONTINUE;
                }
            });
        }
        return new StorageUsage(projects, store.blobCount(), store.storedBytes(), quarantine[0], quarantine[1]);
    }

    /** Measures one project. */
    public static ProjectUsage measure(ContentStore store, String project) throws IOException {
        long[] counts = new long[3];
        store.forEachLink(project, d -> {
            Optional<Long> size = store.blobSize(d);
            if (size.isPresent()) {
                counts[0]++;
                counts[1] += size.get();
            } else {
                counts[2]++;
            }
        });
        return new ProjectUsage(project, counts[0], counts[1], counts[2]);
    }
}
