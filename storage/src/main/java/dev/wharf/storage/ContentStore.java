package dev.wharf.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The storage facade: immutable blobs by digest, per-project links and per-repository tags, with the in-memory index
 * (sizes, recency, leases, tag targets) that keeps them cheap to ask about. It holds the index and the stripe locks
 * and ties the rooms together: {@link BlobStore}, {@link TagStore}, {@link LinkStore} (local files first: see
 * FileBlobStore and friends), {@link AtomicFiles}, Capacity, Catalog, Quarantine, Removals and IndexLoader.
 * Layout, crash safety, path checks and the index's contract: docs/architecture.md, "Storage".
 *
 * <p>Thread-safety: every method may be called from any thread. Most do blocking file I/O; callers on an event loop
 * keep to the cheap ones ({@link #blobPath}, {@link #blobSize}, {@link #use}, {@link #touch}, the counters), which
 * touch memory only.
 *
 * <p>Size: just over 500 lines because this facade is the module's whole public surface (some fifty methods, most a
 * line or two handing over to a seam); splitting it would make every caller know the seams.
 */
public final class ContentStore {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);

    private final StoreLayout layout;
    private final Clock clock;
    private final BlobIndex index = new BlobIndex();
    private final TagIndex tagIndex = new TagIndex();
    private final StripeLocks locks = new StripeLocks();
    private final Listeners listeners = new Listeners();
    private final Capacity capacity = new Capacity(index::bytes, listeners, () -> Capacity.usableSpace(root()));
    private final AtomicFiles files;
    private final FileBlobStore blobs;
    private final TagStore tags;
    private final LinkStore links;
    private final Catalog catalog;
    private final Removals removals;
    private final Quarantine quarantine;
    /** The shared store behind this hot tier (an S3 bucket), or null. */
    private final RemoteTier remote;
    private final long indexRebuildMillis;
    private volatile long pressureThreshold = Long.MAX_VALUE;
    private volatile Runnable onPressure;

    /** Opens (creating if needed) the store rooted at {@code root}, with the system clock. */
    public ContentStore(Path root) throws IOException {
        this(root, Clock.systemUTC());
    }

    /**
     * Opens (creating if needed) the store rooted at {@code root} and rebuilds its index from disk; {@code clock}
     * stamps accesses (recency and retention; a fake one in tests).
     */
    public ContentStore(Path root, Clock clock) throws IOException {
        this(root, clock, null);
    }

    /**
     * As {@link #ContentStore(Path, Clock)}, in front of {@code remote} (null for none): the local store is then a
     * hot tier that reads links, tags and manifests through from the remote and writes them to both; eviction
     * removes only local copies. See {@link RemoteTier}.
     */
    public ContentStore(Path root, Clock clock, RemoteTier remote) throws IOException {
        this.remote = remote;
        this.layout = new StoreLayout(Objects.requireNonNull(root, "root"));
        this.clock = Objects.requireNonNull(clock, "clock");
        Files.createDirectories(layout.blobs);
        Files.createDirectories(layout.tmp);
        Files.createDirectories(layout.projects);
        this.files = new AtomicFiles(layout.tmp, capacity);
        this.blobs = new FileBlobStore(layout);
        TagStore fileTags = new FileTagStore(layout, files);
        LinkStore fileLinks = new FileLinkStore(layout, files);
        this.tags = remote == null ? fileTags : new TieredTagStore(fileTags, remote.tags());
        this.links = remote == null ? fileLinks : new TieredLinkStore(fileLinks, remote.links());
        this.catalog = new Catalog(layout);
        // Eviction frees the hot tier only: it is handed the local rooms, never the remote ones.
        this.removals = new Removals(index, tagIndex, locks, blobs, fileTags, fileLinks, listeners);
        this.quarantine = new Quarantine(layout, blobs, index, locks, removals, this::committed);
        this.indexRebuildMillis = IndexLoader.rebuild(layout.root, blobs, fileTags, index, tagIndex);
    }

    /** The shared store behind this hot tier, if one is configured. */
    public Optional<RemoteTier> remote() {
        return Optional.ofNullable(remote);
    }

    /** Root directory. */
    public Path root() {
        return layout.root;
    }

    /** Deletes everything under tmp/ (interrupted fills). Once, at start-up, before any fill uses this store. */
    public void cleanTemp() throws IOException {
        files.cleanTemp();
    }

    /** Final path of a blob (may not exist). */
    public Path blobPath(Digest digest) {
        return blobs.path(digest);
    }

    /**
     * Size of a committed blob, or empty if it is not stored (or is being evicted). Answered from the in-memory
     * index: no I/O. To serve the blob, take a {@link #use lease} first, so it cannot be evicted meanwhile.
     */
    public Optional<Long> blobSize(Digest digest) {
        long size = index.size(digest);
        return size >= 0 ? Optional.of(size) : Optional.empty();
    }

    /** A new empty temp file under tmp/; {@link StorageFullException} at the {@link #setCapacityLimit hard cap}. */
    public Path newTempFile() throws IOException {
        return files.newTempFile();
    }

    /**
     * Atomically renames a fully written, fsynced and verified temp file to the blob's final path.
     *
     * @throws IllegalArgumentException if {@code temp} is not a file directly under this store's tmp/
     */
    public void commit(Path temp, Digest digest) throws IOException {
        Path source = temp.toAbsolutePath().normalize();
        if (!files.isTemp(source)) {
            throw new IllegalArgumentException("not a temp file of this store: " + temp);
        }
        long size = Files.size(source);
        synchronized (locks.digest(digest)) {
            blobs.commit(source, digest);
            committed(digest, size);
        }
    }

    /**
     * Stores small content (a manifest), unless already stored. The digest is checked again here (cheap for
     * manifests): a wrong file under a content address would be served as that content forever.
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
        if (remote != null) {
            try {
                remote.blobs().commit(files.writeTemp(content), digest); // the remote deletes the temp file
            } catch (IOException | RuntimeException e) {
                log.warn("cannot write {} to the remote store (kept in the hot tier): {}", digest, e.toString());
            }
        }
        putLocal(digest, content);
    }

    /** Stores verified small content in the hot tier only. */
    private void putLocal(Digest digest, byte[] content) throws IOException {
        capacity.claim(content.length);
        try {
            Path temp = files.writeTemp(content);
            try {
                synchronized (locks.digest(digest)) {
                    blobs.commit(temp, digest);
                    committed(digest, content.length);
                }
            } catch (IOException | RuntimeException e) {
                AtomicFiles.deleteQuietly(temp);
                throw e;
            }
        } finally {
            capacity.release(content.length);
        }
    }

    /** Reads a manifest whole; empty if not stored; an IOException, unread, if over {@code maxBytes}. */
    public Optional<byte[]> readSmall(Digest digest, int maxBytes) throws IOException {
        Optional<byte[]> content = blobs.readSmall(digest, maxBytes);
        if (content.isPresent()) {
            return content;
        }
        forgetMissing(digest);
        if (remote == null) {
            return content;
        }
        Optional<byte[]> there;
        try {
            there = remote.blobs().readSmall(digest, maxBytes);
        } catch (IOException | RuntimeException e) {
            log.debug("cannot read {} from the remote store: {}", digest, e.toString());
            return Optional.empty();
        }
        if (there.isEmpty() || !Digest.of(digest.algorithm(), there.get()).equals(digest)) {
            return Optional.empty(); // absent, or not what its key says: never served, fetched again instead
        }
        try {
            putLocal(digest, there.get());
        } catch (IOException | RuntimeException e) {
            log.debug("cannot copy {} into the hot tier: {}", digest, e.toString());
        }
        return there;
    }

    /**
     * Records that {@code project}'s upstream served or confirmed {@code digest}; mediaType may be null (blobs).
     * A null mediaType never erases one already recorded (a manifest may also be fetched through the blob endpoint).
     */
    public void link(String project, Digest digest, String mediaType) throws IOException {
        links.write(project, digest, mediaType);
    }

    /** The link of {@code digest} in {@code project}, if its upstream served or confirmed it. */
    public Optional<Link> link(String project, Digest digest) {
        return links.read(project, digest);
    }

    /** A project's link to a digest: proof that its upstream served or confirmed it. */
    public record Link(Digest digest, String mediaType) {
    }

    /** The cached tag entry, if any. A missing, unreadable or corrupt tag file reads as empty. */
    public Optional<TagEntry> tag(String project, String repository, String tag) {
        return tags.read(new TagRef(project, repository, tag));
    }

    /** Writes (replaces) a tag entry. */
    public void putTag(String project, String repository, String tag, TagEntry entry) throws IOException {
        Objects.requireNonNull(entry, "entry");
        TagRef ref = new TagRef(project, repository, tag);
        StoreLayout.checkMediaType(entry.mediaType());
        synchronized (locks.tag(ref)) {
            tags.write(ref, entry);
            tagIndex.put(ref, entry.digest());
        }
    }

    /**
     * Deletes one tag entry; true if it existed. The content stays (eviction reclaims what nothing uses), and so do
     * empty directories: removing one could race a {@link #putTag} that has just created it.
     */
    public boolean deleteTag(String project, String repository, String tag) throws IOException {
        TagRef ref = new TagRef(project, repository, tag);
        boolean deleted;
        synchronized (locks.tag(ref)) {
            deleted = tags.delete(ref);
            tagIndex.remove(ref);
        }
        if (deleted) {
            listeners.tagsDeleted(List.of(ref));
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
     * Throws {@link IllegalArgumentException} unless {@code segment} is a safe single path segment:
     * non-empty, at most 255 chars, not {@code .} or {@code ..}, only {@code [A-Za-z0-9._-]}. Returns it.
     */
    public static String checkSegment(String segment) {
        return StoreLayout.checkSegment(segment);
    }

    /**
     * Throws {@link IllegalArgumentException} unless {@code repository} is one or more {@link #checkSegment safe
     * segments} joined by single {@code /}, none of them beginning with {@code _} (reserved for the store's own
     * directories; the OCI name grammar never produces one). Returns it.
     */
    public static String checkRepository(String repository) {
        return StoreLayout.checkRepository(repository);
    }

    /** Where {@link #quarantine} puts blobs that failed verification; outside blobs/, so nothing serves them. */
    public Path quarantineDir() {
        return layout.quarantine;
    }

    /** The projects that have a directory under projects/, sorted. Configured projects that stored nothing lack one. */
    public List<String> projectNames() throws IOException {
        return catalog.projectNames();
    }

    /** Calls {@code action} with every digest {@code project} links (served or confirmed by its upstream). */
    public void forEachLink(String project, Consumer<Digest> action) throws IOException {
        links.forEach(project, action);
    }

    /**
     * Calls {@code action} with every committed blob: the files under blobs/ whose names are valid digests. A fill
     * in progress lives under tmp/ until its rename, so it is never seen here half written.
     */
    public void forEachBlob(Consumer<Digest> action) throws IOException {
        blobs.forEach(action);
    }

    /** The repositories of {@code project} that hold at least one tag, sorted. */
    public List<String> repositories(String project) throws IOException {
        return tags.repositories(project);
    }

    /** The tags cached for {@code repository} of {@code project}, sorted; empty if none. */
    public List<String> tags(String project, String repository) throws IOException {
        return tags.tags(project, repository);
    }

    /**
     * Moves a committed blob into {@link #quarantineDir()} with one atomic rename (a reader that opened it keeps
     * reading); the next request fetches it again. Returns where it went, or empty if it was not stored.
     */
    public Optional<Path> quarantine(Digest digest) throws IOException {
        return quarantine.quarantine(digest);
    }

    /**
     * Puts a quarantined file back as the blob (a verifier found it matches after all), or deletes it if a copy is
     * already back in place.
     */
    public void restoreFromQuarantine(Path quarantined, Digest digest) throws IOException {
        quarantine.restore(quarantined, digest);
    }

    /**
     * Drops {@code digest} from the index if its file has gone behind this store's back ({@code wharf verify} in
     * another process, an operator), so the next request fetches it again; true if dropped. One stat: call it when
     * opening the blob failed, not on every serve.
     */
    public boolean forgetMissing(Digest digest) {
        return quarantine.forgetMissing(digest);
    }

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

    /** Persists the accesses recorded since the last flush (as mtimes: docs/architecture.md); returns how many. */
    public int flushRecency() {
        int touched = 0;
        for (BlobIndex.Entry e : index.drainDirty()) {
            if (e.gone()) {
                continue;
            }
            try {
                if (blobs.setLastUsed(e.digest, e.lastAccess)) {
                    touched++;
                } // else evicted meanwhile
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
            out.add(info(e));
        }
        return out;
    }

    /** One committed blob's index entry, if stored. No I/O. */
    public Optional<BlobInfo> blobInfo(Digest digest) {
        BlobIndex.Entry e = index.committedEntry(digest);
        return e == null ? Optional.empty() : Optional.of(info(e));
    }

    private static BlobInfo info(BlobIndex.Entry e) {
        return new BlobInfo(e.digest, e.size, Instant.ofEpochMilli(e.lastAccess), e.pins() > 0);
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
        listeners.add(listener);
    }

    /** Removes a listener added with {@link #addListener}. */
    public void removeListener(StoreListener listener) {
        listeners.remove(listener);
    }

    /** The clock that stamps accesses (injectable for tests). */
    public Clock clock() {
        return clock;
    }

    private void committed(Digest digest, long size) {
        if (index.committed(digest, size, clock.millis())) {
            listeners.committed(digest, size);
        }
        checkPressure();
    }

    /**
     * Evicts one blob unless a lease pins it or it was used at or after {@code usedBefore}, with the tags that point
     * at it and every project's link to it. Returns what was removed, or empty if pinned, recently used, or not
     * stored. Blocking file I/O: call it from a background thread.
     */
    public Optional<Eviction> evict(Digest digest, Eviction.Reason reason, Instant usedBefore) {
        Objects.requireNonNull(reason, "reason");
        return removals.evict(digest, reason, usedBefore);
    }

    /** Deletes one blob now unless a lease pins it (admin): {@link #evict} with reason ADMIN, whatever its age. */
    public Optional<Eviction> delete(Digest digest) {
        return evict(digest, Eviction.Reason.ADMIN, Instant.MAX);
    }

    /** Blobs evicted for {@code reason} since this store was opened. */
    public long evictedCount(Eviction.Reason reason) {
        return removals.count(reason);
    }

    /** Bytes evicted for {@code reason} since this store was opened. */
    public long evictedBytes(Eviction.Reason reason) {
        return removals.bytes(reason);
    }

    /** The committed blobs, least recently used first (a snapshot: each last access and pin is read once). */
    List<BlobInfo> evictionCandidates() {
        List<BlobInfo> out = blobs();
        out.sort(Comparator.comparing(BlobInfo::lastAccess));
        return out;
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

    /**
     * Caps the bytes this store may hold (committed plus in progress); 0 removes the cap. A write beyond it fails
     * with {@link StorageFullException}, treated exactly like ENOSPC. A hard ceiling; {@code storage.maxSize} is the
     * {@link Evictor}'s.
     */
    public void setCapacityLimit(long bytes) {
        capacity.setLimit(bytes);
    }

    /** The hard capacity set with {@link #setCapacityLimit}, or 0. */
    public long capacityLimit() {
        return capacity.limit();
    }

    /** Bytes being written by fills and small writes that are not committed yet. */
    public long pendingBytes() {
        return capacity.pending();
    }

    /** Reserves {@code n} bytes for a fill's append; fails like a full disk at the hard cap. */
    public void claimSpace(long n) throws StorageFullException {
        capacity.claim(n);
    }

    /** Returns bytes reserved with {@link #claimSpace} (written and then committed, or deleted). */
    public void releaseSpace(long n) {
        capacity.release(n);
    }

    /**
     * True if {@code t} (or a cause) is a write to this store that failed for lack of space: the hard cap, or an I/O
     * error while the store's filesystem is (nearly) full, whatever the language of the error's message.
     */
    public boolean outOfSpace(Throwable t) {
        return capacity.outOfSpace(t);
    }

    /**
     * True if {@code t} (or a cause) says by itself that a write failed for lack of space: the hard cap, or the
     * English text of ENOSPC or EDQUOT. It cannot read a localised message: for a write to a store, use
     * {@link #outOfSpace}.
     */
    public static boolean isOutOfSpace(Throwable t) {
        return Capacity.isOutOfSpace(t);
    }

    /** A fill of {@code digest} gave up caching for lack of space: counted, told to listeners, logged once a minute. */
    public void passedThrough(Digest digest, Throwable cause) {
        capacity.passedThrough(digest, cause);
    }

    /** Transfers passed through without caching since this store was opened (storage full). */
    public long passThroughCount() {
        return capacity.passThroughCount();
    }
}
