package dev.wharf.storage;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Link files, {@code projects/<project>/links/<alg>/<hex>}: the local {@link LinkStore}. A link file holds the media
 * type for a manifest and nothing for a blob; it is written by an atomic rename, so a reader sees it whole or not.
 */
final class FileLinkStore implements LinkStore {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);

    private final StoreLayout layout;
    private final AtomicFiles files;

    FileLinkStore(StoreLayout layout, AtomicFiles files) {
        this.layout = layout;
        this.files = files;
    }

    @Override
    public Optional<ContentStore.Link> read(String project, Digest digest) {
        return read(layout.linkPath(project, digest), digest);
    }

    @Override
    public void write(String project, Digest digest, String mediaType) throws IOException {
        Path path = layout.linkPath(project, digest);
        if (mediaType != null) {
            StoreLayout.checkMediaType(mediaType);
        }
        Optional<ContentStore.Link> existing = read(path, digest);
        if (existing.isPresent() && (mediaType == null || mediaType.equals(existing.get().mediaType()))) {
            return;
        }
        files.writeAtomically(path, mediaType == null ? new byte[0] : mediaType.getBytes(UTF_8));
    }

    @Override
    public void forEach(String project, Consumer<Digest> action) throws IOException {
        Catalog.forEachDigestFile(layout.linksDir(project), 1, action);
    }

    @Override
    public void deleteAll(Digest digest) {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(layout.projects)) {
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

    private static Optional<ContentStore.Link> read(Path path, Digest digest) {
        try {
            String mediaType = new String(AtomicFiles.readBounded(path, FileTagStore.MAX_INDEX_FILE), UTF_8);
            if (!mediaType.isEmpty()) {
                StoreLayout.checkMediaType(mediaType);
            }
            return Optional.of(new ContentStore.Link(digest, mediaType.isEmpty() ? null : mediaType));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | IllegalArgumentException e) {
            // Unreadable or damaged (not a media type we could have written): absent, so it is re-confirmed upstream.
            log.warn("cannot read link {}: {}", path, e.toString());
            return Optional.empty();
        }
    }
}
