package dev.wharf.storage;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Crash-safe file writes: every write goes to a new temp file under tmp/ (same root, so same filesystem), is
 * fsynced and then renamed into place with an atomic move, and the directory is fsynced after. Nothing is
 * overwritten in place, so a crash at any moment leaves the old state or the new one, never a half-written file
 * under a final name. Also the bounded read of small files. Thread-safe: temp names are random UUIDs.
 */
public final class AtomicFiles {
    private static final Logger log = LoggerFactory.getLogger(AtomicFiles.class);

    private final Path tmp;
    private final Capacity capacity;

    AtomicFiles(Path tmp, Capacity capacity) {
        this.tmp = tmp;
        this.capacity = capacity;
    }

    /** True if {@code file} is directly under this store's tmp/. */
    boolean isTemp(Path file) {
        return tmp.equals(file.getParent());
    }

    /** See {@link ContentStore#newTempFile}. */
    Path newTempFile() throws IOException {
        capacity.checkRoomForTemp();
        Path temp = tmp.resolve(UUID.randomUUID().toString());
        try {
            return Files.createFile(temp);
        } catch (NoSuchFileException e) {
            // Someone removed tmp/ under a running store; put it back rather than fail every fill from now on.
            Files.createDirectories(tmp);
            return Files.createFile(temp);
        }
    }

    /** See {@link ContentStore#cleanTemp}. */
    void cleanTemp() throws IOException {
        Files.createDirectories(tmp);
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(tmp)) {
            for (Path entry : entries) {
                deleteRecursively(entry);
            }
        }
    }

    /** Replaces {@code target} with {@code content}: temp file, fsync, rename. */
    void writeAtomically(Path target, byte[] content) throws IOException {
        Path temp = writeTemp(content);
        try {
            moveIntoPlace(temp, target);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(temp);
            throw e;
        }
    }

    /** Writes {@code content} to a new temp file and fsyncs it; the caller renames or deletes it. */
    Path writeTemp(byte[] content) throws IOException {
        Path temp = newTempFile();
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(content);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            return temp;
        } catch (IOException | RuntimeException e) {
            deleteQuietly(temp);
            throw e;
        }
    }

    /** Renames a finished file to {@code target} atomically (replacing it) and makes the rename durable. */
    static void moveIntoPlace(Path temp, Path target) throws IOException {
        Path dir = target.getParent();
        Files.createDirectories(dir);
        // On POSIX an atomic move is rename(2): it replaces an existing target in one step.
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        syncDirectory(dir);
    }

    /** Makes a rename in {@code dir} durable. Best effort: some filesystems refuse to fsync a directory. */
    static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            log.debug("cannot fsync directory {}: {}", dir, e.toString());
        }
    }

    /** Reads a whole small file; fails without reading it if it holds more than {@code maxBytes}. */
    static byte[] readBounded(Path path, int maxBytes) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size > maxBytes) {
                throw new IOException(path + " holds " + size + " bytes, more than the " + maxBytes + " allowed");
            }
            ByteBuffer buffer = ByteBuffer.allocate((int) size);
            while (buffer.hasRemaining()) {
                if (channel.read(buffer) < 0) {
                    throw new EOFException(path + " ended early");
                }
            }
            return buffer.array();
        }
    }

    /** Deletes {@code path} if it exists; a failure is logged, not thrown (clean-up paths). */
    public static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            log.warn("cannot delete {}: {}", path, e.toString());
        }
    }

    private static void deleteRecursively(Path start) throws IOException {
        // walkFileTree does not follow symbolic links: a link under tmp/ is deleted, never what it points at.
        Files.walkFileTree(start, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
