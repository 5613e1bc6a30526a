package dev.wharf.storage;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The blobs of a {@link ContentStore} in memory: digest → size, last access and pins. Rebuilt from the files under
 * {@code blobs/} at start-up; kept current by commits, {@code putSmall} and evictions. An entry is <em>committed</em>
 * (size ≥ 0) or <em>pending</em> (size -1: a lease pins a digest not stored yet, such as a fill's client; the
 * commit turns the same entry committed, so its pins carry over).
 *
 * <p>Concurrency: {@code pins} and {@code gone} of an entry are guarded by the entry's monitor, so a pin and an
 * eviction ({@link #beginEvict}) decide under the same monitor and a pinned blob is never evicted. Map mutations are
 * never made inside an entry monitor (no lock-order deadlock with CHM bins): a gone entry is replaced by CAS-style
 * {@code replace}/{@code remove(key, value)} loops. Commits and evictions of one digest are serialised by the
 * store's stripe lock; pins never take it, so serving never waits on file I/O. The full argument (recency, the dirty
 * queue, the totals): docs/architecture.md, "The blob index".
 */
final class BlobIndex {
    /** One digest. */
    static final class Entry {
        final Digest digest;
        /** Bytes of the committed blob, or -1 while pending. */
        volatile long size;
        /** Epoch millis of the last commit or serve. */
        volatile long lastAccess;
        /** {@code lastAccess} is newer than what the file's mtime says; queued for {@link #drainDirty}. */
        volatile boolean dirty;
        /** Guarded by this. */
        private int pins;
        /** Written under this; once true, final. Volatile so the lock-free lookups can skip a gone entry. */
        private volatile boolean gone;

        Entry(Digest digest, long size, long lastAccess, int pins) {
            this.digest = digest;
            this.size = size;
            this.lastAccess = lastAccess;
            this.pins = pins;
        }

        synchronized int pins() {
            return pins;
        }

        boolean gone() {
            return gone;
        }
    }

    private final ConcurrentHashMap<Digest, Entry> map = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Entry> dirtyQueue = new ConcurrentLinkedQueue<>();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong count = new AtomicLong();

    /** Adds a blob found on disk at start-up; its file mtime is its last access. */
    void load(Digest digest, long size, long lastAccess) {
        if (map.putIfAbsent(digest, new Entry(digest, size, lastAccess, 0)) == null) {
            bytes.addAndGet(size);
            count.incrementAndGet();
        }
    }

    /** Size of a committed blob, or -1. Lock-free. */
    long size(Digest digest) {
        Entry e = map.get(digest);
        return e == null || e.gone ? -1 : e.size;
    }

    /** The entry of a committed, not gone, blob, or null. */
    Entry committedEntry(Digest digest) {
        Entry e = map.get(digest);
        if (e == null || e.size < 0 || e.gone()) {
            return null;
        }
        return e;
    }

    /** Pins {@code digest}, stored or not, and records an access; the caller must {@link #unpin} exactly once. */
    Entry pin(Digest digest, long now) {
        for (;;) {
            Entry e = map.get(digest);
            if (e == null) {
                Entry fresh = new Entry(digest, -1, now, 1);
                if (map.putIfAbsent(digest, fresh) == null) {
                    return fresh;
                }
                continue;
            }
            synchronized (e) {
                if (!e.gone) {
                    e.pins++;
                    if (e.size >= 0) {
                        touch(e, now);
                    }
                    return e;
                }
            }
            // Being evicted (or a pending entry whose last pin just went): put a pending one in its place.
            Entry fresh = new Entry(digest, -1, now, 1);
            if (map.replace(digest, e, fresh)) {
                return fresh;
            }
        }
    }

    /** Drops one pin; returns true if that was the last pin of a committed blob (eviction may now take it). */
    boolean unpin(Entry e) {
        boolean remove;
        boolean lastOfCommitted;
        synchronized (e) {
            if (e.pins <= 0) {
                throw new IllegalStateException("unpinned more often than pinned: " + e.digest);
            }
            e.pins--;
            remove = e.pins == 0 && e.size < 0;
            if (remove) {
                e.gone = true;
            }
            lastOfCommitted = e.pins == 0 && e.size >= 0;
        }
        if (remove) {
            map.remove(e.digest, e);
        }
        return lastOfCommitted;
    }

    /** Records an access of a committed blob (no-op otherwise). Lock-free: a map lookup and a volatile write. */
    void touch(Digest digest, long now) {
        Entry e = map.get(digest);
        if (e != null && e.size >= 0) {
            touch(e, now);
        }
    }

    private void touch(Entry e, long now) {
        if (now > e.lastAccess) {
            e.lastAccess = now;
            if (!e.dirty) {
                e.dirty = true;
                dirtyQueue.add(e);
            }
        }
    }

    /**
     * The blob was renamed into place (the caller holds the digest's stripe lock). Turns a pending entry committed
     * (keeping its pins) or adds one. Returns false if it was already committed (same content, same size).
     */
    boolean committed(Digest digest, long size, long now) {
        for (;;) {
            Entry e = map.get(digest);
            if (e == null) {
                Entry fresh = new Entry(digest, size, now, 0);
                if (map.putIfAbsent(digest, fresh) == null) {
                    added(fresh, size);
                    return true;
                }
                continue;
            }
            boolean promoted = false;
            boolean live = false;
            synchronized (e) {
                if (!e.gone) {
                    live = true;
                    promoted = e.size < 0;
                    e.size = size;
                    e.lastAccess = Math.max(e.lastAccess, now);
                }
            }
            if (live) {
                if (promoted) {
                    added(e, size);
                } else if (!e.dirty) {
                    e.dirty = true;
                    dirtyQueue.add(e);
                }
                return promoted;
            }
            Entry fresh = new Entry(digest, size, now, 0);
            if (map.replace(digest, e, fresh)) {
                added(fresh, size);
                return true;
            }
        }
    }

    private void added(Entry e, long size) {
        bytes.addAndGet(size);
        count.incrementAndGet();
        e.dirty = true;
        dirtyQueue.add(e);
    }

    /**
     * Marks a committed, unpinned blob gone if it was last accessed before {@code accessedBefore} (epoch millis);
     * returns the entry, or null if it is pinned, pending, absent, or was used since. The caller holds the stripe
     * lock, deletes the file and then calls {@link #finishEvict}.
     */
    Entry beginEvict(Digest digest, long accessedBefore) {
        return beginEvict(digest, accessedBefore, false);
    }

    /**
     * As {@link #beginEvict(Digest, long)}; with {@code force} the pins and the last access are ignored (quarantine
     * of a corrupt blob: the holders of a pin keep the file they opened, and a pin on a gone entry only counts down).
     */
    Entry beginEvict(Digest digest, long accessedBefore, boolean force) {
        Entry e = map.get(digest);
        if (e == null) {
            return null;
        }
        synchronized (e) {
            if (e.gone || e.size < 0 || (!force && (e.pins > 0 || e.lastAccess >= accessedBefore))) {
                return null;
            }
            e.gone = true;
        }
        return e;
    }

    /** Takes an entry marked gone by {@link #beginEvict} out of the map and the totals. */
    void finishEvict(Entry e) {
        map.remove(e.digest, e);
        bytes.addAndGet(-e.size);
        count.decrementAndGet();
    }

    /** Committed bytes. */
    long bytes() {
        return bytes.get();
    }

    /** Committed blobs. */
    long count() {
        return count.get();
    }

    /** A snapshot of the committed, not gone, entries (for eviction and listings). */
    List<Entry> committedEntries() {
        List<Entry> out = new ArrayList<>(map.size());
        for (Entry e : map.values()) {
            if (e.size >= 0 && !e.gone()) {
                out.add(e);
            }
        }
        return out;
    }

    /** Takes the entries whose last access is not persisted yet, clearing their flag (see the class comment). */
    List<Entry> drainDirty() {
        List<Entry> out = new ArrayList<>();
        Entry e;
        while ((e = dirtyQueue.poll()) != null) {
            if (e.dirty) {
                e.dirty = false;
                out.add(e);
            }
        }
        return out;
    }
}
