package dev.wharf.storage;

/**
 * The store's stripe locks: one set for the commits, evictions and quarantines of a digest, one for the writes and
 * deletes of a tag. A thread that needs both takes the digest's first, then the tag's; never the other way round.
 * Held only around file renames and deletes and the index change that goes with them; pins never take them.
 */
final class StripeLocks {
    private final Object[] digestLocks = locks(64);
    private final Object[] tagLocks = locks(64);

    Object digest(Digest digest) {
        return digestLocks[(digest.hex().hashCode() & 0x7fffffff) % digestLocks.length];
    }

    Object tag(TagRef ref) {
        return tagLocks[(ref.hashCode() & 0x7fffffff) % tagLocks.length];
    }

    private static Object[] locks(int n) {
        Object[] locks = new Object[n];
        for (int i = 0; i < n; i++) {
            locks[i] = new Object();
        }
        return locks;
    }
}
