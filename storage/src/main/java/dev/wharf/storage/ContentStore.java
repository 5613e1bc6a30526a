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
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
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
 * <p>Thread-safety: all methods may be called from any thread. Concurrent writers of the same final name race
 * benignly: both renames carry identical content (blobs, links) or the last one wins (tags). Every method does
 * blocking file I/O; callers on an event loop should keep to the cheap ones ({@link #blobPath}, {@link #blobSize}).
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

    private final Path root;
    private final Path blobs;
    private final Path tmp;
    private final Path projects;

    /** Opens (creating if needed) the store rooted at {@code root}. */
    public ContentStore(Path root) throws IOException {
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
        this.blobs = this.root.resolve("blobs");
        this.tmp = this.root.resolve("tmp");
        this.projects = this.root.resolve("projects");
        Files.createDirectories(blobs);
        Files.createDirectories(tmp);
        Files.createDirectories(projects);
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

    /** Size of a committed blob, or empty if it is not stored. */
    public Optional<Long> blobSize(Digest digest) {
        try {
            BasicFileAttributes attributes = Files.readAttributes(blobPath(digest), BasicFileAttributes.class);
            return attributes.isRegularFile() ? Optional.of(attributes.size()) : Optional.empty();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            log.warn("cannot stat blob {}: {}", digest, e.toString());
            return Optional.empty();
        }
    }

    /** Creates a new empty temp file under tmp/ for a fill or a small write. */
    public Path newTempFile() throws IOException {
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
        moveIntoPlace(source, blobPath(digest));
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
        String actual = HexFormat.of().formatHex(newMessageDigest(digest).digest(content));
        if (!actual.equals(digest.hex())) {
            throw new IllegalArgumentException(
                    "content does not match its digest: expected " + digest + ", got " + digest.algorithm() + ":"
                            + actual);
        }
        writeAtomically(blobPath(digest), content);
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
        writeAtomically(path, text.getBytes(UTF_8));
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
        Path temp = newTempFile();
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(content);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            moveIntoPlace(temp, target);
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

    static MessageDigest newMessageDigest(Digest digest) {
        try {
            return MessageDigest.getInstance(digest.jcaAlgorithm());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + digest.jcaAlgorithm(), e);
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
