package dev.wharf.storage;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tag files, {@code projects/<project>/repos/<name>/_tags/<tag>}: the local {@link TagStore}. Each file is a few
 * {@code key=value} lines under a version header, replaced whole by an atomic rename, so a reader sees the old entry
 * or the new one. Why {@code _tags}: see docs/architecture.md, "Storage layout on disk".
 */
final class FileTagStore implements TagStore {
    private static final Logger log = LoggerFactory.getLogger(ContentStore.class);
    /** Tag files are a few hundred bytes; anything bigger is corrupt and is not read into memory. */
    static final int MAX_INDEX_FILE = 16 * 1024;

    private final StoreLayout layout;
    private final AtomicFiles files;

    FileTagStore(StoreLayout layout, AtomicFiles files) {
        this.layout = layout;
        this.files = files;
    }

    @Override
    public Optional<TagEntry> read(TagRef ref) {
        Path path = layout.tagPath(ref.project(), ref.repository(), ref.tag());
        byte[] bytes;
        try {
            bytes = AtomicFiles.readBounded(path, MAX_INDEX_FILE);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            log.warn("cannot read tag file {}: {}", path, e.toString());
            return Optional.empty();
        }
        Optional<TagEntry> entry = TagEntry.decode(new String(bytes, UTF_8));
        if (entry.isEmpty()) {
            log.warn("ignoring corrupt tag file {}", path);
        }
        return entry;
    }

    @Override
    public void write(TagRef ref, TagEntry entry) throws IOException {
        String text = entry.encode();
        files.writeAtomically(layout.tagPath(ref.project(), ref.repository(), ref.tag()), text.getBytes(UTF_8));
    }

    @Override
    public boolean delete(TagRef ref) throws IOException {
        return Files.deleteIfExists(layout.tagPath(ref.project(), ref.repository(), ref.tag()));
    }

    @Override
    public List<String> tags(String project, String repository) throws IOException {
        Path dir = layout.repositoryDir(project, repository).resolve(StoreLayout.TAGS_DIR);
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (StoreLayout.isSafeSegment(name) && Files.isRegularFile(entry)) {
                    names.add(name);
                }
            }
        } catch (NoSuchFileException e) {
            return names;
        }
        Collections.sort(names);
        return names;
    }

    @Override
    public List<String> repositories(String project) throws IOException {
        Path repos = layout.reposDir(project);
        List<String> names = new ArrayList<>();
        if (!Files.isDirectory(repos)) {
            return names;
        }
        walkTagDirs(repos, (repository, dir) -> {
            if (hasEntries(dir)) {
                names.add(repository);
            }
        });
        Collections.sort(names);
        return names;
    }

    @Override
    public void forEach(BiConsumer<TagRef, TagEntry> action) throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(layout.projects)) {
            for (Path projectDir : entries) {
                String project = projectDir.getFileName().toString();
                Path repos = projectDir.resolve("repos");
                if (!StoreLayout.isSafeSegment(project) || !Files.isDirectory(repos)) {
                    continue;
                }
                walkTagDirs(repos, (repository, dir) -> {
                    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                        for (Path file : files) {
                            TagRef ref;
                            try {
                                ref = new TagRef(project, repository, file.getFileName().toString());
                            } catch (IllegalArgumentException e) {
                                continue;
                            }
                            read(ref).ifPresent(entry -> action.accept(ref, entry));
                        }
                    }
                });
            }
        }
    }

    private interface TagDirVisitor {
        void visit(String repository, Path tagsDir) throws IOException;
    }

    /** Calls {@code visitor} with each {@code _tags} directory under {@code repos} and its repository's name. */
    private static void walkTagDirs(Path repos, TagDirVisitor visitor) throws IOException {
        Files.walkFileTree(repos, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (!dir.getFileName().toString().equals(StoreLayout.TAGS_DIR)) {
                    return FileVisitResult.CONTINUE;
                }
                String repository = repos.relativize(dir.getParent()).toString()
                        .replace(dir.getFileSystem().getSeparator(), "/");
                visitor.visit(repository, dir);
                return FileVisitResult.SKIP_SUBTREE;
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
}
