package dev.wharf.storage;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tags in the hot tier and the remote, as {@link TieredLinkStore} does links: read locally first, then remotely (a
 * hit is copied into the hot tier); written and deleted in both; a failing remote is logged and skipped, so cached
 * tags keep serving while it is down. {@link #forEach} walks the hot tier only: it rebuilds the local tag index.
 */
final class TieredTagStore implements TagStore {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);

    private final TagStore local;
    private final TagStore remote;

    TieredTagStore(TagStore local, TagStore remote) {
        this.local = local;
        this.remote = remote;
    }

    @Override
    public Optional<TagEntry> read(TagRef ref) {
        Optional<TagEntry> here = local.read(ref);
        if (here.isPresent()) {
            return here;
        }
        Optional<TagEntry> there;
        try {
            there = remote.read(ref);
        } catch (RuntimeException e) {
            log.debug("cannot read the remote tag {}: {}", ref, e.toString());
            return Optional.empty();
        }
        there.ifPresent(entry -> {
            try {
                local.write(ref, entry);
            } catch (IOException | RuntimeException e) {
                log.debug("cannot copy tag {} into the hot tier: {}", ref, e.toString());
            }
        });
        return there;
    }

    @Override
    public void write(TagRef ref, TagEntry entry) throws IOException {
        local.write(ref, entry);
        try {
            remote.write(ref, entry);
        } catch (IOException | RuntimeException e) {
            log.warn("cannot write tag {} to the remote store: {}", ref, e.toString());
        }
    }

    @Override
    public boolean delete(TagRef ref) throws IOException {
        boolean deleted = local.delete(ref);
        try {
            deleted |= remote.delete(ref);
        } catch (IOException | RuntimeException e) {
            log.warn("cannot delete tag {} from the remote store: {}", ref, e.toString());
        }
        return deleted;
    }

    @Override
    public List<String> tags(String project, String repository) throws IOException {
        TreeSet<String> all = new TreeSet<>(local.tags(project, repository));
        try {
            all.addAll(remote.tags(project, repository));
        } catch (IOException | RuntimeException e) {
            log.debug("cannot list the remote tags of {}/{}: {}", project, repository, e.toString());
        }
        return List.copyOf(all);
    }

    @Override
    public List<String> repositories(String project) throws IOException {
        TreeSet<String> all = new TreeSet<>(local.repositories(project));
        try {
            all.addAll(remote.repositories(project));
        } catch (IOException | RuntimeException e) {
            log.debug("cannot list the remote repositories of {}: {}", project, e.toString());
        }
        return List.copyOf(all);
    }

    @Override
    public void forEach(BiConsumer<TagRef, TagEntry> action) throws IOException {
        local.forEach(action);
    }
}
