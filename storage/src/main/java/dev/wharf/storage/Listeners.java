package dev.wharf.storage;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link StoreListener}s of one store, and the one place they are called: synchronously, on the thread that made
 * the change, each in turn; an exception is logged and the next listener still runs. Copy-on-write: registering is
 * rare, telling is frequent.
 */
final class Listeners {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);

    private final List<StoreListener> listeners = new CopyOnWriteArrayList<>();

    void add(StoreListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    void remove(StoreListener listener) {
        listeners.remove(listener);
    }

    void committed(Digest digest, long size) {
        tell(l -> l.committed(digest, size), "a commit");
    }

    void evicted(Eviction eviction) {
        tell(l -> l.evicted(eviction),
                eviction.reason() == Eviction.Reason.QUARANTINE ? "a quarantine" : "an eviction");
    }

    void tagsDeleted(List<TagRef> tags) {
        tell(l -> l.tagsDeleted(tags), "a tag deletion");
    }

    void passedThrough(Digest digest, Throwable cause) {
        tell(l -> l.passedThrough(digest, cause), "a pass-through");
    }

    private void tell(Consumer<StoreListener> call, String what) {
        for (StoreListener l : listeners) {
            try {
                call.accept(l);
            } catch (RuntimeException e) {
                log.warn("store listener failed on {}", what, e);
            }
        }
    }
}
