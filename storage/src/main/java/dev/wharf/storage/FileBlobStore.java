package dev.wharf.storage;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blobs as files, {@code blobs/<alg>/<2 hex>/<hex>}: the local {@link BlobStore} and the hot tier the server serves
 * files from. A blob appears under its name only by an atomic rename of a verified temp file, and leaves it by a
 * delete or a rename to quarantine/, so a reader sees a whole file or none. The last use is kept as the file's mtime.
 */
final class FileBlobStore implements BlobStore {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);

    private final StoreLayout layout;

    FileBlobStore(StoreLayout layout) {
        this.layout = layout;
    }

    /** Final path of a blob (may not exist). */
    Path path(Digest digest) {
        return layout.blobPath(digest);
    }

    @Override
    public boolean exists(Digest digest) {
        return Files.exists(path(digest));
    }

    @Override
    public void commit(Path verified, Digest digest) throws IOException {
        AtomicFiles.moveIntoPlace(verified, path(digest));
    }

    @Override
    public Optional<byte[]> readSmall(Digest digest, int maxBytes) throws IOException {
        try {
            return Optional.of(AtomicFiles.readBounded(path(digest), maxBytes));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public boolean delete(Digest digest) throws IOException {
        return Files.deleteIfExists(path(digest));
    }

    /** Moves the blob to {@code target} with one atomic rename (quarantine). */
    void moveOut(Digest digest, Path target) throws IOException {
        Files.move(path(digest), target, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public boolean setLastUsed(Digest digest, long epochMillis) throws IOException {
        try {
            Files.setLastModifiedTime(path(digest), FileTime.fromMillis(epochMillis));
            return true;
        } catch (NoSuchFileException gone) {
            return false;
        }
    }

    @Override
    public void forEach(Consumer<Digest> action) throws IOException {
        Catalog.forEachDigestFile(layout.blobs, 2, action);
    }

    @Override
    public void scan(Found found) throws IOException {
        try (DirectoryStream<Path> algorithms = Files.newDirectoryStream(layout.blobs)) {
            for (Path algorithm : algorithms) {
                if (Files.isDirectory(algorithm)) {
                    scanAlgorithm(algorithm, found);
                }
            }
        }
    }

    private static void scanAlgorithm(Path dir, Found found) throws IOException {
        String algorithm = dir.getFileName().toString();
        List<Path> prefixes = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            entries.forEach(prefixes::add);
        }
        // The prefix directories are independent: stat them in parallel (the walk is syscall-bound).
        prefixes.parallelStream().forEach(prefix -> {
            String two = prefix.getFileName().toString();
            try (DirectoryStream<Path> files = Files.newDirectoryStream(prefix)) {
                for (Path file : files) {
                    String hex = file.getFileName().toString();
                    if (!hex.startsWith(two)) {
                        continue;
                    }
                    Digest digest;
                    try {
                        digest = new Digest(algorithm, hex);
                    } catch (IllegalArgumentException e) {
                        continue; // not ours (an editor's backup, say): never touched
                    }
                    try {
                        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
                        if (a.isRegularFile()) {
                            found.blob(digest, a.size(), a.lastModifiedTime().toMillis());
                        }
                    } catch (IOException e) {
                        log.warn("cannot stat blob {}: {}", file, e.toString());
                    }
                }
            } catch (NotDirectoryException e) {
                // a stray file at the prefix level: not ours
            } catch (IOException e) {
                log.warn("cannot list {}: {}", prefix, e.toString());
            }
        });
    }
}
