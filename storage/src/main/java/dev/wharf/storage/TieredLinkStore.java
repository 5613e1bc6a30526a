package dev.wharf.storage;

import java.io.IOException;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Links in the hot tier and the remote: read locally first, then remotely (a hit is copied into the hot tier);
 * written to both. A remote that fails (down) is logged and skipped: the local copy still answers, and a link is a
 * permission the upstream can give again, so nothing a client needs is lost. Thread-safe as both stores are.
 */
final class TieredLinkStore implements LinkStore {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);

    private final LinkStore local;
    private final LinkStore remote;

    TieredLinkStore(LinkStore local, LinkStore remote) {
        this.local = local;
        this.remote = remote;
    }

    @Override
    public Optional<ContentStore.Link> read(String project, Digest digest) {
        Optional<ContentStore.Link> here = local.read(project, digest);
        if (here.isPresent()) {
            return here;
        }
        Optional<ContentStore.Link> there;
        try {
            there = remote.read(project, digest);
        } catch (RuntimeException e) {
            log.debug("cannot read the remote link {} of {}: {}", digest, project, e.toString());
            return Optional.empty();
        }
        there.ifPresent(link -> {
            try {
                local.write(project, digest, link.mediaType());
            } catch (IOException | RuntimeException e) {
                log.debug("cannot copy link {} of {} into the hot tier: {}", digest, project, e.toString());
            }
        });
        return there;
    }

    @Override
    public void write(String project, Digest digest, String mediaType) throws IOException {
        local.write(project, digest, mediaType);
        try {
            remote.write(project, digest, mediaType);
        } catch (IOException | RuntimeException e) {
            log.warn("cannot write link {} of {} to the remote store: {}", digest, project, e.toString());
        }
    }

    @Override
    public void forEach(String project, Consumer<Digest> action) throws IOException {
        Set<Digest> seen = new HashSet<>();
        local.forEach(project, d -> {
            seen.add(d);
            action.accept(d);
        });
        remote.forEach(project, d -> {
            if (!seen.contains(d)) {
                action.accept(d);
            }
        });
    }

    @Override
    public void deleteAll(Digest digest) {
        local.deleteAll(digest);
        try {
            remote.deleteAll(digest);
        } catch (RuntimeException e) {
            log.warn("cannot delete the remote links of {}: {}", digest, e.toString());
        }
    }
}
