package dev.wharf.storage;

import static java.nio.charset.StandardCharsets.UTF_8;

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
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Content-addressed storage on disk: immutable blobs by digest, per-project links, per-repository tags.
 *
 * <p>Layout under the root (see shared/DESIGN.md):
 * <pre>
 * blobs/&lt;alg&gt;/&lt;2 hex&gt;/&lt;hex&gt;                        immutable content (layers, configs, manifests)
 * tmp/&lt;id&gt;                                         fills in progress and every other write before its rename;
 *                                                  deleted at start-up
 * projects/&lt;project&gt;/links/&lt;alg&gt;/&lt;hex&gt;            this project's upstream served or confirmed this digest;
 *                                                  the file holds the media type for manifests, empty for blobs
 * projects/&lt;project&gt;/repos/&lt;name&gt;/_tags/&lt;tag&gt;  digest, media type, fetched-at
 * quarantine/&lt;alg&gt;/&lt;hex&gt;.&lt;millis&gt;-&lt;id&gt;       blobs that failed verification ({@link #quarantine}); never served
 * </pre>
 * Tags live under {@code _tags/}, not {@code tags/} as DESIGN.md first sketched: with {@code tags/}, repository
 * {@code a} with tag {@code b} and repository {@code a/tags/b} would need the same path as a file and as a directory.
 * No OCI repository component can begin with {@code _}, and {@link #checkRepository} refuses one, so
 * {@code _tags} can never collide with a repository.
 *
 * <p>Every write goes to a temp file under {@code tmp/} (same root, so same filesystem), is fsynced and then renamed
 * into place with an atomic move; nothing is overwritten in place, so a crash at any moment leaves either the old
 * state or the new one, never a half-written file under a final name.
 *
 * <p>Project names, repository names and tags are validated by the caller's value types, and validated again here
 * ({@link #checkSegment}, {@link #checkRepository}) before they touch the filesystem: no segment may be empty,
 * {@code .}, {@code ..}, longer than 255 characters, or hold anything outside {@code [A-Za-z0-9._-]} (repository
 * names may hold {@code /} between such segments). Case rules (lower-case repository names) are the server's job;
 * this class only guarantees that no path it builds leaves the root.
 *
 * <p>In memory the store keeps an index of its blobs (digest, size, last access, pins) and of its tags (tag →
 * digest and back), rebuilt from disk by the constructor (one stat per blob, in parallel per prefix directory) and
 * kept current by every change made through this object. {@link #blobSize} answers from it without I/O. A
 * {@link BlobLease} ({@link #use}) pins a blob against eviction; {@link #evict} removes an unpinned blob with the tag
 * entries that point at it and the projects' links to it; the {@link Evictor} applies {@code storage.maxSize} and
 * {@code retention.unusedFor}. Recency is kept in memory and persisted as file mtimes ({@link #flushRecency}). A
 * write that fails for lack of space ({@link #isOutOfSpace}) makes a fill pass its bytes through uncached
 * ({@link BlobFill}), counted by {@link #passThroughCount}.
 *
 * <p>Thread-safety: all methods may be called from any thread. Concurrent writers of the same final name race
 * benignly: both renames carry identical content (blobs, links) or the last one wins (tags). Every method does
 * blocking file I/O; callers on an event loop should keep to the cheap ones ({@link #blobPath}, {@link #blobSize},
 * {@link #use}, {@link #touch}, the counters), which touch memory only.
 */
public final class ContentStore {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);

    private static final int MAX_SEGMENT = 255;
    /** Tag and link files are a few hundred bytes; anything bigger is corrupt and is not read into memory. */
    private static final int MAX_INDEX_FILE = 16 * 1024;
    /** RFC 6838 caps type and subtype at 127 characters each; parameters may follow. */
    private static final int MAX_MEDIA_TYPE = 1024;
    static final String TAGS_DIR = "_tags";
    private static final String TAG_HEADER = "# wharf tag v1";

    private static final long PASS_THROUGH_LOG_INTERVAL_NANOS = 60_000_000_000L;

    private final Path root;
    private final Path blobs;
    private final Path tmp;
    private final Path projects;
    private final Clock clock;
    private final BlobIndex index = new BlobIndex();
    private final TagIndex tagIndex = new TagIndex();
    /** Stripe locks: commits and evictions of one digest; writes and deletes of one tag. Digest before tag. */
    private final Object[] digestLocks = locks(64);
    private final Object[] tagLocks = locks(64);
    private final List<StoreListener> listeners = new CopyOnWriteArrayList<>();
    private final LongAdder[] evictedBlobs = adders(Eviction.Reason.values().length);
    private final LongAdder[] evictedBytes = adders(Eviction.Reason.values().length);
    private final LongAdder passThroughs = new LongAdder();
    private final AtomicLong lastPassThroughLog = new AtomicLong(System.nanoTime() - PASS_THROUGH_LOG_INTERVAL_NANOS);
    private final AtomicLong pendingBytes = new AtomicLong();
    private volatile long capacityLimit;
    private volatile long pressureThreshold = Long.MAX_VALUE;
    private volatile Runnable onPressure;
    private long indexRebuildMillis;

    /** Opens (creating if needed) the store rooted at {@code root}, with the system clock. */
    public ContentStore(Path root) throws IOException {
        this(root, Clock.systemUTC());
    }

    /**
     * Opens (creating if needed) the store rooted at {@code root} and rebuilds its index from disk; {@code clock}
     * stamps accesses (recency and retention; a fake one in tests).
     */
    public ContentStore(Path root, Clock clock) throws IOException {
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
        this.clock = Objects.requireNonNull(clock, "clock");
        this.blobs = this.root.resolve("blobs");
        this.tmp = this.root.resolve("tmp");
        this.projects = this.root.resolve("projects");
        Files.createDirectories(blobs);
        Files.createDirectories(tmp);
        Files.createDirectories(projects);
        rebuildIndex();
    }

    private static LongAdder[] adders(int n) {
        LongAdder[] adders = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            adders[i] = new LongAdder();
        }
        return adders;
    }

    /** Root directory. */
    public Path root() {
        return root;
    }

    /**
     * Deletes everything under tmp/ (fills that a crash or restart interrupted). Called once at start-up, before any
     * {@link Fills} uses this store: it would delete the temp files of running fills.
     */
    public void cleanTemp() throws IOException {
        Files.createDirectories(tmp);
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(tmp)) {
            for (Path entry : entries) {
                deleteRecursively(entry);
            }
        }
    }

    /** Final path of a blob (may not exist). */
    public Path blobPath(Digest digest) {
        String hex = digest.hex();
        // Digest validates algorithm and hex strictly, so both are safe file names.
        return blobs.resolve(digest.algorithm()).resolve(hex.substring(0, 2)).resolve(hex);
    }

    /**
     * Size of a committed blob, or empty if it is not stored (or is being evicted). Answered from the in-memory
     * index: no I/O. To serve the blob, take a {@link #use lease} first, so it cannot be evicted meanwhile.
     */
    public Optional<Long> blobSize(Digest digest) {
        long size = index.size(digest);
        return size >= 0 ? Optional.of(size) : Optional.empty();
    }

    /**
     * Creates a new empty temp file under tmp/ for a fill or a small write. Fails with {@link StorageFullException}
     * when the store is at its {@link #setCapacityLimit hard capacity}, as a full disk would.
     */
    public Path newTempFile() throws IOException {
        long limit = capacityLimit;
        if (limit > 0 && index.bytes() + pendingBytes.get() >= limit) {
            throw new StorageFullException("No space left on device: the store's capacity of " + limit
                    + " bytes is reached");
        }
        Path temp = tmp.resolve(UUID.randomUUID().toString());
        try {
            return Files.createFile(temp);
        } catch (NoSuchFileException e) {
            // Someone removed tmp/ under a running store; put it back rather than fail every fill from now on.
            Files.createDirectories(tmp);
            return Files.createFile(temp);
        }
    }

    /**
     * Atomically renames a fully written and verified temp file to the blob's final path.
     * The caller has already compared the digest and fsynced the file.
     *
     * @throws IllegalArgumentException if {@code temp} is not a file directly under this store's tmp/
     */
    public void commit(Path temp, Digest digest) throws IOException {
        Path source = temp.toAbsolutePath().normalize();
        if (!tmp.equals(source.getParent())) {
            throw new IllegalArgumentException("not a temp file of this store: " + temp);
        }
        long size = Files.size(source);
        synchronized (digestLock(digest)) {
            moveIntoPlace(source, blobPath(digest));
            committed(digest, size);
        }
    }

    /**
     * Stores small content (a manifest): temp file, fsync, rename. Returns at once if the blob is already stored.
     * The caller has verified the digest; it is checked again here (cheap for manifests) because a wrong file under
     * a content address would be served as that content forever.
     *
     * @throws IllegalArgumentException if {@code content} does not hash to {@code digest}
     */
    public void putSmall(Digest digest, byte[] content) throws IOException {
        Objects.requireNonNull(content, "content");
        if (blobSize(digest).isPresent()) {
            return;
        }
        Digest actual = Digest.of(digest.algorithm(), content);
        if (!actual.equals(digest)) {
            throw new IllegalArgumentException(
                    "content does not match its digest: expected " + digest + ", got " + actual);
        }
        claimSpace(content.length);
        try {
            Path temp = writeTemp(content);
            try {
                synchronized (digestLock(digest)) {
                    moveIntoPlace(temp, blobPath(digest));
                    committed(digest, content.length);
                }
            } catch (IOException | RuntimeException e) {
                deleteQuietly(temp);
                throw e;
            }
        } finally {
            releaseSpace(content.length);
        }
    }

    /**
     * Reads small content (a manifest) fully; empty if not stored. Callers use this only for manifests.
     *
     * @throws IOException if the stored blob is larger than {@code maxBytes} (it is not read)
     */
    public Optional<byte[]> readSmall(Digest digest, int maxBytes) throws IOException {
        try {
            return Optional.of(readBounded(blobPath(digest), maxBytes));
        } catch (NoSuchFileException e) {
            forgetMissing(digest);
            return Optional.empty();
        }
    }

    /**
     * Records that {@code project}'s upstream served or confirmed {@code digest}; mediaType may be null (blobs).
     * A null mediaType never erases one already recorded (a manifest may also be fetched through the blob endpoint).
     */
    public void link(String project, Digest digest, String mediaType) throws IOException {
        Path path = linkPath(project, digest);
        if (mediaType != null) {
            checkMediaType(mediaType);
        }
        Optional<Link> existing = readLink(path, digest);
        if (existing.isPresent() && (mediaType == null || mediaType.equals(existing.get().mediaType()))) {
            return;
        }
        writeAtomically(path, mediaType == null ? new byte[0] : mediaType.getBytes(UTF_8));
    }

    /** The link of {@code digest} in {@code project}, if its upstream served or confirmed it. */
    public Optional<Link> link(String project, Digest digest) {
        return readLink(linkPath(project, digest), digest);
    }

    /** The cached tag entry, if any. A missing, unreadable or corrupt tag file reads as empty. */
    public Optional<TagEntry> tag(String project, String repository, String tag) {
        Path path = tagPath(project, repository, tag);
        byte[] bytes;
        try {
            bytes = readBounded(path, MAX_INDEX_FILE);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            log.warn("cannot read tag file {}: {}", path, e.toString());
            return Optional.empty();
        }
        Optional<TagEntry> entry = parseTag(new String(bytes, UTF_8));
        if (entry.isEmpty()) {
            log.warn("ignoring corrupt tag file {}", path);
        }
        return entry;
    }

    /** Writes (replaces) a tag entry. */
    public void putTag(String project, String repository, String tag, TagEntry entry) throws IOException {
        Objects.requireNonNull(entry, "entry");
        Path path = tagPath(project, repository, tag);
        checkMediaType(entry.mediaType());
        String text = TAG_HEADER + "\n"
                + "digest=" + entry.digest() + "\n"
                + "mediaType=" + entry.mediaType() + "\n"
                + "fetchedAt=" + entry.fetchedAt() + "\n";
        TagRef ref = new TagRef(project, repository, tag);
        synchronized (tagLock(ref)) {
            writeAtomically(path, text.getBytes(UTF_8));
            tagIndex.put(ref, entry.digest());
        }
    }

    /**
     * Throws {@link IllegalArgumentException} unless {@code segment} is a safe single path segment:
     * non-empty, at most 255 chars, not {@code .} or {@code ..}, only {@code [A-Za-z0-9._-]}. Returns it.
     */
    public static String checkSegment(String segment) {
        if (segment == null || segment.isEmpty()) {
            throw new IllegalArgumentException("path segment is empty");
        }
        if (segment.length() > MAX_SEGMENT) {
            throw new IllegalArgumentException(
                    "path segment is longer than " + MAX_SEGMENT + " characters: " + printable(segment));
        }
        if (segment.equals(".") || segment.equals("..")) {
            throw new IllegalArgumentException("path segment may not be '" + segment + "'");
        }
        for (int i = 0; i < segment.length(); i++) {
            char c = segment.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-';
            if (!ok) {
                throw new IllegalArgumentException(
                        "path segment holds a character outside [A-Za-z0-9._-]: " + printable(segment));
            }
        }
        return segment;
    }

    /**
     * Throws {@link IllegalArgumentException} unless {@code repository} is one or more {@link #checkSegment safe
     * segments} joined by single {@code /}, none of them beginning with {@code _} (reserved for the store's own
     * directories; the OCI name grammar never produces one). Returns it.
     */
    public static String checkRepository(String repository) {
        if (repository == null || repository.isEmpty()) {
            throw new IllegalArgumentException("repository name is empty");
        }
        for (String segment : repository.split("/", -1)) {
            try {
                checkSegment(segment);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "invalid repository name " + printable(repository) + ": " + e.getMessage(), e);
            }
            if (segment.charAt(0) == '_') {
                throw new IllegalArgumentException(
                        "invalid repository name " + printable(repository) + ": a component may not begin with '_'");
            }
        }
        return repository;
    }

    /** A project's link to a digest: proof that its upstream served or confirmed it. */
    public record Link(Digest digest, String mediaType) {
    }

    // ---- catalog and maintenance: the admin API, `wharf du` and `wharf verify` ----
    //
    // These may run while a server (this process or another one) writes the same root. Listings read directories
    // that writers only ever change by atomic renames, so they see each file either whole or not at all; a file
    // renamed or deleted under a walk is skipped, never an error.

    /** Where {@link #quarantine} puts blobs that failed verification; outside blobs/, so nothing serves them. */
    public Path quarantineDir() {
        return root.resolve("quarantine");
    }

    /** The projects that have a directory under projects/, sorted. Configured projects that stored nothing lack one. */
    public List<String> projectNames() throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(projects)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (Files.isDirectory(entry) && isSafeSegment(name)) {
                    names.add(name);
                }
            }
        }
        Collections.sort(names);
        return names;
    }

    /** Calls {@code action} with every digest {@code project} links (served or confirmed by its upstream). */
    public void forEachLink(String project, Consumer<Digest> action) throws IOException {
        forEachDigestFile(projects.resolve(checkSegment(project)).resolve("links"), 1, action);
    }

    /**
     * Calls {@code action} with every committed blob: the files under blobs/ whose names are valid digests. A fill
     * in progress lives under tmp/ until its rename, so it is never seen here half written.
     */
    public void forEachBlob(Consumer<Digest> action) throws IOException {
        forEachDigestFile(blobs, 2, action);
    }

    /** The repositories of {@code project} that hold at least one tag, sorted. */
    public List<String> repositories(String project) throws IOException {
        Path repos = projects.resolve(checkSegment(project)).resolve("repos");
        List<String> names = new ArrayList<>();
        if (!Files.isDirectory(repos)) {
            return names;
        }
        Files.walkFileTree(repos, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (!dir.getFileName().toString().equals(TAGS_DIR)) {
                    return FileVisitResult.CONTINUE;
                }
                if (hasEntries(dir)) {
                    names.add(repos.relativize(dir.getParent()).toString().replace(dir.getFileSystem().getSeparator(), "/"));
                }
                return FileVisitResult.SKIP_SUBTREE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
                return FileVisitResult.CONTINUE; // deleted under the walk
            }
        });
        Collections.sort(names);
        return names;
    }

    /** The tags cached for {@code repository} of {@code project}, sorted; empty if none. */
    public List<String> tags(String project, String repository) throws IOException {
        Path dir = repositoryDir(project, repository).resolve(TAGS_DIR);
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (isSafeSegment(name) && Files.isRegularFile(entry)) {
                    names.add(name);
                }
            }
        } catch (NoSuchFileException e) {
            return names;
        }
        Collections.sort(names);
        return names;
    }

    /**
     * Deletes one tag entry; true if it existed. The content it pointed at stays: blobs are shared by digest across
     * tags, repositories and projects, and eviction reclaims what nothing uses. Empty directories are left in place,
     * since removing one could race a concurrent {@link #putTag} that has just created it.
     */
    public boolean deleteTag(String project, String repository, String tag) throws IOException {
        Path path = tagPath(project, repository, tag);
        TagRef ref = new TagRef(project, repository, tag);
        boolean deleted;
        synchronized (tagLock(ref)) {
            deleted = Files.deleteIfExists(path);
            tagIndex.remove(ref);
        }
        if (deleted) {
            for (StoreListener l : listeners) {
                try {
                    l.tagsDeleted(List.of(ref));
                } catch (RuntimeException e) {
                    log.warn("store listener failed on a tag deletion", e);
                }
            }
        }
        return deleted;
    }

    /**
     * Deletes every tag entry of {@code repository} (not those of repositories nested under it, such as
     * {@code a/b} under {@code a}); returns how many were deleted. Content stays, as for {@link #deleteTag}.
     */
    public int deleteRepository(String project, String repository) throws IOException {
        int deleted = 0;
        for (String tag : tags(project, repository)) {
            if (deleteTag(project, repository, tag)) {
                deleted++;
            }
        }
        return deleted;
    }

    /**
     * Moves a committed blob out of blobs/ into {@link #quarantineDir()} with one atomic rename, so a reader sees
     * either the old file or none, and the next request for it fetches it again. Returns where it went, or empty if
     * it was not stored (evicted or quarantined meanwhile). A reader that opened the file before the rename keeps
     * reading it to the end.
     */
    public Optional<Path> quarantine(Digest digest) throws IOException {
        Path dir = quarantineDir().resolve(digest.algorithm());
        Files.createDirectories(dir);
        Path target = dir.resolve(digest.hex() + "." + System.currentTimeMillis() + "-" + UUID.randomUUID());
        BlobIndex.Entry entry;
        List<TagRef> removedTags;
        synchronized (digestLock(digest)) {
            // Unlike eviction, a lease does not hold a corrupt blob back: a client mid-read keeps its open file.
            entry = index.beginEvict(digest, Long.MAX_VALUE, true);
            try {
                Files.move(blobPath(digest), target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                if (entry != null) {
                    index.finishEvict(entry);
                    if (!(e instanceof NoSuchFileException)) {
                        index.committed(digest, entry.size, entry.lastAccess); // still in place
                    }
                }
                if (e instanceof NoSuchFileException) {
                    return Optional.empty();
                }
                throw e;
            }
            removedTags = deleteTagsPointingAt(digest);
            if (entry != null) {
                index.finishEvict(entry);
            }
        }
        syncDirectory(dir);
        syncDirectory(blobPath(digest).getParent());
        if (entry != null) {
            Eviction eviction = new Eviction(digest, entry.size, Eviction.Reason.QUARANTINE, removedTags);
            evictedBlobs[Eviction.Reason.QUARANTINE.ordinal()].increment();
            evictedBytes[Eviction.Reason.QUARANTINE.ordinal()].add(entry.size);
            for (StoreListener l : listeners) {
                try {
                    l.evicted(eviction);
                } catch (RuntimeException e) {
                    log.warn("store listener failed on a quarantine", e);
                }
            }
        }
        return Optional.of(target);
    }

    /**
     * Puts a quarantined file back as the blob (for a verifier that finds it matches after all: the bad file was
     * replaced by a good copy between its hash and its rename). If a copy is already back in place, the quarantined
     * one is deleted instead.
     */
    public void restoreFromQuarantine(Path quarantined, Digest digest) throws IOException {
        Path source = quarantined.toAbsolutePath().normalize();
        if (!source.startsWith(quarantineDir())) {
            throw new IllegalArgumentException("not a quarantined file of this store: " + quarantined);
        }
        synchronized (digestLock(digest)) {
            if (blobSize(digest).isPresent()) {
                Files.deleteIfExists(source);
                return;
            }
            long size = Files.size(source);
            moveIntoPlace(source, blobPath(digest));
            committed(digest, size);
        }
    }

    /**
     * Drops {@code digest} from the index if its file has gone from blobs/ behind this store's back (another process
     * quarantined it, such as {@code wharf verify} beside a running server, or an operator deleted it), so the next
     * request fetches it again instead of failing on a file that is not there. Returns true if it was dropped. One
     * stat: call it when opening the blob failed, not on every serve.
     */
    public boolean forgetMissing(Digest digest) {
        synchronized (digestLock(digest)) {
            if (Files.exists(blobPath(digest))) {
                return false;
            }
            BlobIndex.Entry entry = index.beginEvict(digest, Long.MAX_VALUE, true);
            if (entry == null) {
                return false;
            }
            index.finishEvict(entry);
        }
        log.warn("blob {} is gone from {} (quarantined by wharf verify, or deleted by hand): it will be fetched again",
                digest, blobs);
        return true;
    }

    /** The directory of a repository under its project (may not exist). */
    private Path repositoryDir(String project, String repository) {
        Path path = projects.resolve(checkSegment(project)).resolve("repos");
        for (String segment : checkRepository(repository).split("/")) {
            path = path.resolve(segment);
        }
        return insideRoot(path);
    }

    /** Walks {@code <dir>/<alg>/[<2 hex>/]<hex>} ({@code levels} directories below dir), calling back valid digests. */
    private static void forEachDigestFile(Path dir, int levels, Consumer<Digest> action) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        Files.walkFileTree(dir, Set.of(), levels + 1, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                if (!attrs.isRegularFile() || dir.relativize(file).getNameCount() != levels + 1) {
                    return FileVisitResult.CONTINUE;
                }
                String algorithm = dir.relativize(file).getName(0).toString();
                String hex = file.getFileName().toString();
                if (levels == 2 && !hex.startsWith(file.getParent().getFileName().toString())) {
                    return FileVisitResult.CONTINUE;
                }
                Digest digest;
                try {
                    digest = new Digest(algorithm, hex);
                } catch (IllegalArgumentException e) {
                    return FileVisitResult.CONTINUE; // not ours (an editor's backup, say): never touched
                }
                action.accept(digest);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
                return FileVisitResult.CONTINUE; // deleted under the walk
            }
        });
    }

    private static boolean hasEntries(Path dir) throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            return entries.iterator().hasNext();
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    private static boolean isSafeSegment(String name) {
        try {
            checkSegment(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    // ---- the index: leases, recency, eviction, capacity ----
    //
    // The index (BlobIndex, TagIndex) is this object's memory of blobs/ and of the tag files: rebuilt by the
    // constructor, kept current by every commit, putSmall, putTag and eviction made through this object. A change
    // made behind its back by another process (the `wharf verify` CLI beside a running server) is seen after a
    // restart. Commits and evictions of one digest hold the digest's stripe lock, so a delete can never land after
    // a rename of the same name; pins never take it (BlobIndex), so serving never waits on file I/O.

    /**
     * Pins {@code digest} against eviction and records an access, whether or not it is stored now: a fill of it may
     * commit while the lease is open, and the pin then holds the committed blob. Close the lease when the response
     * that needed it ends. Cheap enough for an event loop (no I/O).
     */
    public BlobLease use(Digest digest) {
        return new BlobLease(this, index.pin(Objects.requireNonNull(digest, "digest"), clock.millis()));
    }

    void release(BlobIndex.Entry entry) {
        if (index.unpin(entry)) {
            checkPressure();
        }
    }

    /** Records an access of a stored blob without pinning it (a manifest served from memory). No I/O. */
    public void touch(Digest digest) {
        index.touch(digest, clock.millis());
    }

    /**
     * Writes the accesses recorded since the last flush to disk, as the blob files' mtimes; returns how many files
     * were touched. The evictor calls it periodically and at close.
     *
     * <p>Why mtimes and not an append-only journal: the start-up walk stats every blob anyway, so the mtime comes
     * back with no extra I/O and no file to replay, compact or repair after a crash; and a serve costs no syscall at
     * all (a volatile write and, once per flush period per blob, a queue offer), while a flush costs one
     * {@code utimensat} per distinct blob used in the period, on the evictor's thread. A crash loses at most one
     * period of recency, which only makes eviction slightly less exact. A blob's mtime is never used for anything
     * else: the content is immutable and its identity is its digest.
     */
    public int flushRecency() {
        int touched = 0;
        for (BlobIndex.Entry e : index.drainDirty()) {
            if (e.gone()) {
                continue;
            }
            try {
                Files.setLastModifiedTime(blobPath(e.digest), FileTime.fromMillis(e.lastAccess));
                touched++;
            } catch (NoSuchFileException gone) {
                // evicted meanwhile
            } catch (IOException ex) {
                log.debug("cannot record the last access of {}: {}", e.digest, ex.toString());
            }
        }
        return touched;
    }

    /** Bytes of committed blobs (the index's total; no I/O). */
    public long storedBytes() {
        return index.bytes();
    }

    /** Number of committed blobs (no I/O). */
    public long blobCount() {
        return index.count();
    }

    /** Number of tag entries on disk (no I/O). */
    public int tagCount() {
        return tagIndex.size();
    }

    /** How long the constructor took to rebuild the index from disk, in milliseconds. */
    public long indexRebuildMillis() {
        return indexRebuildMillis;
    }

    /** The committed blobs with size, last access and whether a lease pins them: a snapshot, no I/O. */
    public List<BlobInfo> blobs() {
        List<BlobInfo> out = new ArrayList<>();
        for (BlobIndex.Entry e : index.committedEntries()) {
            out.add(new BlobInfo(e.digest, e.size, Instant.ofEpochMilli(e.lastAccess), e.pins() > 0));
        }
        return out;
    }

    /** One committed blob's index entry, if stored. No I/O. */
    public Optional<BlobInfo> blobInfo(Digest digest) {
        BlobIndex.Entry e = index.committedEntry(digest);
        return e == null ? Optional.empty()
                : Optional.of(new BlobInfo(e.digest, e.size, Instant.ofEpochMilli(e.lastAccess), e.pins() > 0));
    }

    /** The tags that point at {@code digest} (a snapshot of the in-memory tag index). */
    public List<TagRef> tagsPointingAt(Digest digest) {
        return tagIndex.pointingAt(digest);
    }

    /** Every tag entry and the digest it points at (a snapshot of the in-memory tag index). */
    public Map<TagRef, Digest> allTags() {
        return tagIndex.all();
    }

    /** Registers a listener for commits, evictions, tag deletions and pass-throughs. */
    public void addListener(StoreListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** Removes a listener added with {@link #addListener}. */
    public void removeListener(StoreListener listener) {
        listeners.remove(listener);
    }

    /**
     * Evicts one blob unless a lease pins it or it was used at or after {@code usedBefore}: deletes the tag entries
     * that point at it (a manifest's tags go with it), every project's link to it, then the file (a delete, never a
     * truncation, so a crash leaves the whole file or none). Returns what was removed, or empty if it was pinned,
     * recently used, or not stored. Blocking file I/O: call it from a background thread.
     */
    public Optional<Eviction> evict(Digest digest, Eviction.Reason reason, Instant usedBefore) {
        Objects.requireNonNull(reason, "reason");
        long before = usedBefore.isAfter(Instant.ofEpochMilli(Long.MAX_VALUE / 2)) ? Long.MAX_VALUE
                : usedBefore.toEpochMilli();
        Eviction eviction;
        synchronized (digestLock(digest)) {
            BlobIndex.Entry e = index.beginEvict(digest, before);
            if (e == null) {
                return Optional.empty();
            }
            List<TagRef> removedTags = deleteTagsPointingAt(digest);
            deleteLinks(digest);
            try {
                Files.deleteIfExists(blobPath(digest));
            } catch (IOException ex) {
                log.warn("cannot delete blob {} for eviction: {}", digest, ex.toString());
                index.finishEvict(e);
                index.committed(digest, e.size, e.lastAccess); // still there: keep counting it
                return Optional.empty();
            }
            index.finishEvict(e);
            eviction = new Eviction(digest, e.size, reason, removedTags);
        }
        evictedBlobs[reason.ordinal()].increment();
        evictedBytes[reason.ordinal()].add(eviction.size());
        for (StoreListener l : listeners) {
            try {
                l.evicted(eviction);
            } catch (RuntimeException ex) {
                log.warn("store listener failed on an eviction", ex);
            }
        }
        return Optional.of(eviction);
    }

    /** Deletes one blob now unless a lease pins it (admin): {@link #evict} with reason ADMIN, whatever its age. */
    public Optional<Eviction> delete(Digest digest) {
        return evict(digest, Eviction.Reason.ADMIN, Instant.MAX);
    }

    /** Blobs evicted for {@code reason} since this store was opened. */
    public long evictedCount(Eviction.Reason reason) {
        return evictedBlobs[reason.ordinal()].sum();
    }

    /** Bytes evicted for {@code reason} since this store was opened. */
    public long evictedBytes(Eviction.Reason reason) {
        return evictedBytes[reason.ordinal()].sum();
    }

    /** The committed blobs, least recently used first (a snapshot: each last access and pin is read once). */
    List<BlobInfo> evictionCandidates() {
        List<BlobInfo> out = blobs();
        out.sort(java.util.Comparator.comparing(BlobInfo::lastAccess));
        return out;
    }

    /** The clock that stamps accesses (injectable for tests). */
    public Clock clock() {
        return clock;
    }

    /**
     * Caps the bytes this store may hold (committed plus fills in progress); 0 removes the cap. A write beyond it
     * fails with {@link StorageFullException}, which the store treats exactly like ENOSPC (fills pass their bytes
     * through instead of caching them). For tests and for a hard ceiling below the filesystem's own; the
     * {@code storage.maxSize} eviction target is the {@link Evictor}'s, not this.
     */
    public void setCapacityLimit(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative capacity: " + bytes);
        }
        capacityLimit = bytes;
    }

    /** The hard capacity set with {@link #setCapacityLimit}, or 0. */
    public long capacityLimit() {
        return capacityLimit;
    }

    /** Bytes being written by fills and small writes that are not committed yet. */
    public long pendingBytes() {
        return pendingBytes.get();
    }

    /** Reserves {@code n} bytes for a write about to happen; fails like a full disk if the hard capacity is hit. */
    void claimSpace(long n) throws StorageFullException {
        for (;;) {
            long pending = pendingBytes.get();
            long limit = capacityLimit;
            if (limit > 0 && index.bytes() + pending + n > limit) {
                throw new StorageFullException("No space left on device: the store's capacity of " + limit
                        + " bytes is reached");
            }
            if (pendingBytes.compareAndSet(pending, pending + n)) {
                return;
            }
        }
    }

    /** Returns bytes reserved with {@link #claimSpace} (written and then committed, or deleted). */
    void releaseSpace(long n) {
        pendingBytes.addAndGet(-n);
    }

    /** True if {@code t} (or a cause) is a write that failed for lack of space: ENOSPC, EDQUOT or the hard cap. */
    public static boolean isOutOfSpace(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof StorageFullException) {
                return true;
            }
            String m = c.getMessage();
            if (c instanceof IOException && m != null
                    && (m.contains("No space left on device") || m.contains("Disk quota exceeded"))) {
                return true;
            }
        }
        return false;
    }

    /** A fill of {@code digest} gave up caching for lack of space: counted, told to listeners, logged at most once a minute. */
    void passedThrough(Digest digest, Throwable cause) {
        passThroughs.increment();
        long now = System.nanoTime();
        long last = lastPassThroughLog.get();
        if (now - last >= PASS_THROUGH_LOG_INTERVAL_NANOS && lastPassThroughLog.compareAndSet(last, now)) {
            log.warn("storage is full: passing blobs through to clients without caching them ({} so far, this one "
                    + "{}): {}; logged at most once a minute", passThroughs.sum(), digest, cause.getMessage());
        }
        for (StoreListener l : listeners) {
            try {
                l.passedThrough(digest, cause);
            } catch (RuntimeException ex) {
                log.warn("store listener failed on a pass-through", ex);
            }
        }
    }

    /** Transfers passed through without caching since this store was opened (storage full). */
    public long passThroughCount() {
        return passThroughs.sum();
    }

    /** Asks for {@code onPressure} to run (from any thread; it must not block) whenever stored bytes exceed {@code threshold}. */
    void setPressure(long threshold, Runnable onPressure) {
        this.onPressure = onPressure;
        this.pressureThreshold = threshold;
    }

    private void checkPressure() {
        Runnable r = onPressure;
        if (r != null && index.bytes() > pressureThreshold) {
            r.run();
        }
    }

    private void committed(Digest digest, long size) {
        if (index.committed(digest, size, clock.millis())) {
            for (StoreListener l : listeners) {
                try {
                    l.committed(digest, size);
                } catch (RuntimeException ex) {
                    log.warn("store listener failed on a commit", ex);
                }
            }
        }
        checkPressure();
    }

    private List<TagRef> deleteTagsPointingAt(Digest digest) {
        List<TagRef> removed = new ArrayList<>();
        for (TagRef ref : tagIndex.pointingAt(digest)) {
            synchronized (tagLock(ref)) {
                if (!tagIndex.target(ref).map(digest::equals).orElse(false)) {
                    continue; // re-pointed meanwhile
                }
                try {
                    Files.deleteIfExists(tagPath(ref.project(), ref.repository(), ref.tag()));
                    tagIndex.remove(ref);
                    removed.add(ref);
                } catch (IOException e) {
                    log.warn("cannot delete tag {} of evicted manifest {}: {}", ref, digest, e.toString());
                }
            }
        }
        return removed;
    }

    private void deleteLinks(Digest digest) {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(projects)) {
            for (Path project : entries) {
                try {
                    Files.deleteIfExists(project.resolve("links").resolve(digest.algorithm()).resolve(digest.hex()));
                } catch (IOException e) {
                    log.debug("cannot delete link {} of {}: {}", digest, project, e.toString());
                }
            }
        } catch (IOException e) {
            log.warn("cannot list projects to unlink {}: {}", digest, e.toString());
        }
    }

    private Object digestLock(Digest digest) {
        return digestLocks[(digest.hex().hashCode() & 0x7fffffff) % digestLocks.length];
    }

    private Object tagLock(TagRef ref) {
        return tagLocks[(ref.hashCode() & 0x7fffffff) % tagLocks.length];
    }

    private static Object[] locks(int n) {
        Object[] locks = new Object[n];
        for (int i = 0; i < n; i++) {
            locks[i] = new Object();
        }
        return locks;
    }

    /** Fills the index from disk: every blob with its size and mtime, every tag file with its digest. */
    private void rebuildIndex() throws IOException {
        long start = System.nanoTime();
        try (DirectoryStream<Path> algorithms = Files.newDirectoryStream(blobs)) {
            for (Path algorithm : algorithms) {
                if (Files.isDirectory(algorithm)) {
                    indexAlgorithm(algorithm);
                }
            }
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(projects)) {
            for (Path project : entries) {
                String name = project.getFileName().toString();
                if (isSafeSegment(name) && Files.isDirectory(project.resolve("repos"))) {
                    indexTags(name, project.resolve("repos"));
                }
            }
        }
        indexRebuildMillis = (System.nanoTime() - start) / 1_000_000;
        log.info("indexed {} blobs ({} bytes) and {} tags under {} in {} ms", index.count(), index.bytes(),
                tagIndex.size(), root, indexRebuildMillis);
    }

    private void indexAlgorithm(Path dir) throws IOException {
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
                            index.load(digest, a.size(), a.lastModifiedTime().toMillis());
                        }
                    } catch (IOException e) {
                        log.warn("cannot stat blob {}: {}", file, e.toString());
                    }
                }
            } catch (java.nio.file.NotDirectoryException e) {
                // a stray file at the prefix level: not ours
            } catch (IOException e) {
                log.warn("cannot list {}: {}", prefix, e.toString());
            }
        });
    }

    private void indexTags(String project, Path repos) throws IOException {
        Files.walkFileTree(repos, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (!dir.getFileName().toString().equals(TAGS_DIR)) {
                    return FileVisitResult.CONTINUE;
                }
                String repository = repos.relativize(dir.getParent()).toString()
                        .replace(dir.getFileSystem().getSeparator(), "/");
                try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                    for (Path file : files) {
                        TagRef ref;
                        try {
                            ref = new TagRef(project, repository, file.getFileName().toString());
                        } catch (IllegalArgumentException e) {
                            continue;
                        }
                        tag(project, repository, ref.tag()).ifPresent(entry -> tagIndex.put(ref, entry.digest()));
                    }
                }
                return FileVisitResult.SKIP_SUBTREE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
                return FileVisitResult.CONTINUE;
            }
        });
    }

    // ---- paths ----

    private Path linkPath(String project, Digest digest) {
        Path path = projects.resolve(checkSegment(project)).resolve("links")
                .resolve(digest.algorithm()).resolve(digest.hex());
        return insideRoot(path);
    }

    private Path tagPath(String project, String repository, String tag) {
        Path path = projects.resolve(checkSegment(project)).resolve("repos");
        for (String segment : checkRepository(repository).split("/")) {
            path = path.resolve(segment);
        }
        return insideRoot(path.resolve(TAGS_DIR).resolve(checkSegment(tag)));
    }

    /** Belt and braces behind the segment checks: a path this class builds never leaves the root. */
    private Path insideRoot(Path path) {
        Path normal = path.normalize();
        if (!normal.startsWith(projects) || !normal.equals(path)) {
            throw new IllegalArgumentException("path escapes the store: " + path);
        }
        return path;
    }

    // ---- reading and writing ----

    private Optional<Link> readLink(Path path, Digest digest) {
        try {
            String mediaType = new String(readBounded(path, MAX_INDEX_FILE), UTF_8);
            return Optional.of(new Link(digest, mediaType.isEmpty() ? null : mediaType));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            log.warn("cannot read link {}: {}", path, e.toString());
            return Optional.empty();
        }
    }

    private static Optional<TagEntry> parseTag(String text) {
        Map<String, String> fields = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                return Optional.empty();
            }
            fields.put(line.substring(0, eq), line.substring(eq + 1));
        }
        String digest = fields.get("digest");
        String mediaType = fields.get("mediaType");
        String fetchedAt = fields.get("fetchedAt");
        if (digest == null || mediaType == null || mediaType.isEmpty() || fetchedAt == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(new TagEntry(Digest.parse(digest), mediaType, Instant.parse(fetchedAt)));
        } catch (IllegalArgumentException | DateTimeException e) {
            return Optional.empty();
        }
    }

    private static byte[] readBounded(Path path, int maxBytes) throws IOException {
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

    private void writeAtomically(Path target, byte[] content) throws IOException {
        Path temp = writeTemp(content);
        try {
            moveIntoPlace(temp, target);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(temp);
            throw e;
        }
    }

    /** Writes {@code content} to a new temp file and fsyncs it; the caller renames or deletes it. */
    private Path writeTemp(byte[] content) throws IOException {
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

    private static void moveIntoPlace(Path temp, Path target) throws IOException {
        Path dir = target.getParent();
        Files.createDirectories(dir);
        // On POSIX an atomic move is rename(2): it replaces an existing target in one step.
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        syncDirectory(dir);
    }

    /** Makes the rename itself durable. Best effort: some filesystems refuse to fsync a directory. */
    private static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            log.debug("cannot fsync directory {}: {}", dir, e.toString());
        }
    }

    static void deleteQuietly(Path path) {
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

    private static void checkMediaType(String mediaType) {
        if (mediaType.isEmpty() || mediaType.length() > MAX_MEDIA_TYPE) {
            throw new IllegalArgumentException("media type is empty or too long");
        }
        for (int i = 0; i < mediaType.length(); i++) {
            char c = mediaType.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                throw new IllegalArgumentException("media type holds a control or non-ASCII character: "
                        + printable(mediaType));
            }
        }
    }

    /** Quotes an untrusted string for a message: abbreviated, control characters escaped. */
    private static String printable(String s) {
        StringBuilder out = new StringBuilder("\"");
        int limit = Math.min(s.length(), 80);
        for (int i = 0; i < limit; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        if (s.length() > limit) {
            out.append("...");
        }
        return out.append('"').toString();
    }
}
