package dev.wharf.auth.access;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An htpasswd file of bcrypt entries ({@code htpasswd -B}: {@code name:$2y$...}), read again when it changes.
 * User names may hold any character but ':' and control characters, so Harbor-style robots ({@code robot$ci})
 * work. Entries in other formats (MD5, SHA-1, crypt, plain) are refused at load with a warning that names the line,
 * never the hash.
 *
 * <p>Threads: {@link #check} runs bcrypt on the caller's thread, which must not be an event loop (it takes tens of
 * milliseconds); {@link #has} and {@link #generation} only read memory. One watcher thread ({@link #watch}) looks
 * at the file's size, modification time and inode once a second and reads it again when they change. The parsed
 * entries sit in one volatile immutable record, replaced whole, so a check sees either the old file or the new one.
 */
public final class Htpasswd implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Htpasswd.class);
    /** A file larger than this is refused: a million robots would not need it. */
    private static final long MAX_BYTES = 16 << 20;
    /** How often the file's size and modification time are looked at, at most. */
    private static final Duration RECHECK = Duration.ofSeconds(1);
    private static final Set<String> BCRYPT = Set.of("$2y$", "$2a$", "$2b$");

    private final Path file;
    private final Clock clock;
    private volatile Loaded loaded;
    private java.util.concurrent.ScheduledExecutorService watcher;

    /** One read of the file: the entries, what the file looked like then, and when it was last looked at. */
    private record Loaded(Map<String, String> hashes, String stamp, byte[] digest, long checkedAt) {
    }

    private Htpasswd(Path file, Clock clock) {
        this.file = file;
        this.clock = clock;
    }

    /** Reads {@code file}; an unreadable file throws {@link IOException} (start-up fails with it). */
    public static Htpasswd load(Path file, Clock clock) throws IOException {
        Htpasswd h = new Htpasswd(file, clock);
        h.loaded = h.read(stamp(file));
        LOG.info("htpasswd {}: {} users", file, h.loaded.hashes.size());
        return h;
    }

    /** True if {@code user} is in the file with a bcrypt hash that {@code password} matches. */
    public boolean check(String user, String password) {
        String hash = current().hashes.get(user);
        if (hash == null || password == null) {
            return false;
        }
        try {
            return OpenBSDBCrypt.checkPassword(hash, password.toCharArray());
        } catch (IllegalArgumentException e) {
            return false; // a hash that looked like bcrypt but is not well formed, or a password bcrypt refuses
        }
    }

    /** True if {@code user} has an entry. */
    public boolean has(String user) {
        return current().hashes.containsKey(user);
    }

    /**
     * A value that changes whenever the file's content changes: what a cache of checked passwords keys on, so a
     * changed password is never answered from the cache.
     */
    public String generation() {
        return java.util.HexFormat.of().formatHex(current().digest);
    }

    /** Starts the watcher thread that reads the file again when it changes; stopped by {@link #close}. */
    public synchronized Htpasswd watch() {
        if (watcher == null) {
            watcher = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "wharf-htpasswd");
                t.setDaemon(true);
                return t;
            });
            watcher.scheduleWithFixedDelay(this::reloadIfChanged, RECHECK.toMillis(), RECHECK.toMillis(),
                    java.util.concurrent.TimeUnit.MILLISECONDS);
        }
        return this;
    }

    @Override
    public synchronized void close() {
        if (watcher != null) {
            watcher.shutdownNow();
        }
    }

    private Loaded current() {
        return loaded;
    }

    /** Reads the file again if its size, modification time or inode changed; the watcher's job (and tests'). */
    public void reloadIfChanged() {
        Loaded l = loaded;
        long now = clock.millis();
        try {
            String stamp = stamp(file);
            if (stamp.equals(l.stamp)) {
                return;
            }
            Loaded fresh = read(stamp);
            if (!MessageDigest.isEqual(fresh.digest, l.digest)) {
                LOG.info("htpasswd {} changed: {} users", file, fresh.hashes.size());
            }
            loaded = fresh;
        } catch (IOException | RuntimeException e) {
            // A file being replaced may be missing for a moment: keep the last good entries, and say so.
            LOG.warn("htpasswd {} cannot be read ({}); keeping the {} users read before", file,
                    e.getClass().getSimpleName(), l.hashes.size());
            loaded = new Loaded(l.hashes, l.stamp, l.digest, now);
        }
    }

    private static String stamp(Path file) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return a.size() + "/" + a.lastModifiedTime().toMillis() + "/" + a.fileKey();
    }

    private Loaded read(String stamp) throws IOException {
        if (Files.size(file) > MAX_BYTES) {
            throw new IOException("htpasswd file " + file + " is larger than " + MAX_BYTES + " bytes");
        }
        byte[] bytes = Files.readAllBytes(file);
        Map<String, String> hashes = new HashMap<>();
        List<String> lines = new String(bytes, StandardCharsets.UTF_8).lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                LOG.warn("htpasswd {} line {}: not name:hash; ignored", file, i + 1);
                continue;
            }
            String name = line.substring(0, colon);
            String hash = line.substring(colon + 1);
            if (hash.length() < 4 || !BCRYPT.contains(hash.substring(0, 4))) {
                LOG.warn("htpasswd {} line {} ({}): not a bcrypt entry (create it with htpasswd -B); ignored", file,
                        i + 1, name);
                continue;
            }
            hashes.put(name, hash);
        }
        byte[] digest;
        try {
            digest = MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return new Loaded(Map.copyOf(hashes), stamp, digest, clock.millis());
    }
}
