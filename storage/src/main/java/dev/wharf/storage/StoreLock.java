package dev.wharf.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The one server of a storage directory: an OS lock on {@code <root>/.lock}, held for the process's life (the OS
 * drops it when the process dies, so a crash leaves nothing to clean up). A second server on the directory would
 * delete the first one's fills in progress when it cleans {@code tmp/} at start-up, so it must refuse to start.
 * The read-only tools ({@code du}, {@code verify}) never take it. The file holds the owner's PID, for the message.
 */
public final class StoreLock implements AutoCloseable {
    static final String FILE = ".lock";

    private final FileChannel channel;
    private final FileLock lock;

    private StoreLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock of the store rooted at {@code root} (created if missing).
     *
     * @throws StoreLockedException if another process (or another server in this JVM) holds it
     */
    public static StoreLock acquire(Path root) throws IOException {
        Files.createDirectories(root);
        Path file = root.resolve(FILE);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // held by this JVM already
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            String owner = owner(ch);
            ch.close();
            throw new StoreLockedException("storage directory " + root + " is in use by another wharf"
                    + (owner.isEmpty() ? "" : " (pid " + owner + ")") + "; a second server on it would delete the "
                    + "first one's downloads in progress. Stop the other server, or give this one its own storage "
                    + "directory");
        }
        try {
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
        } catch (IOException e) {
            // The PID is only for the message; the lock is what matters (and a full disk must not stop start-up).
        }
        return new StoreLock(ch, lock);
    }

    private static String owner(FileChannel ch) {
        try {
            ByteBuffer buf = ByteBuffer.allocate(32);
            ch.read(buf, 0);
            return new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            return "";
        }
    }

    /** Releases the lock (the file stays: deleting it could race a server starting now). */
    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException e) {
            // closing the channel below releases it too
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing left to do
        }
    }
}
