package dev.wharf.storage;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Listings of what is on disk, for the admin API, {@code wharf du} and {@code wharf verify}. They may run while a
 * server (this process or another) writes the same root: writers only change these directories by atomic renames,
 * so a listing sees each file whole or not at all, and a file renamed or deleted under a walk is skipped, never an
 * error.
 */
final class Catalog {
    private final StoreLayout layout;

    Catalog(StoreLayout layout) {
        this.layout = layout;
    }

    /** See {@link ContentStore#projectNames}. */
    List<String> projectNames() throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(layout.projects)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (Files.isDirectory(entry) && StoreLayout.isSafeSegment(name)) {
                    names.add(name);
                }
            }
        }
        Collections.sort(names);
        return names;
    }

    /** Walks {@code <dir>/<alg>/[<2 hex>/]<hex>} ({@code levels} directories below dir), calling back valid digests. */
    static void forEachDigestFile(Path dir, int levels, Consumer<Digest> action) throws IOException {
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
}
