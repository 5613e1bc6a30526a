package dev.wharf.storage;

import java.nio.file.Path;

/**
 * Where each thing lives under a store's root, and the checks that keep every path it builds inside that root.
 * The layout itself is drawn in docs/architecture.md ("Storage layout on disk"). Pure: no I/O.
 */
final class StoreLayout {
    static final String TAGS_DIR = "_tags";
    private static final int MAX_SEGMENT = 255;
    /** RFC 6838 caps type and subtype at 127 characters each; parameters may follow. */
    private static final int MAX_MEDIA_TYPE = 1024;

    final Path root;
    final Path blobs;
    final Path tmp;
    final Path projects;
    final Path quarantine;

    StoreLayout(Path root) {
        this.root = root.toAbsolutePath().normalize();
        this.blobs = this.root.resolve("blobs");
        this.tmp = this.root.resolve("tmp");
        this.projects = this.root.resolve("projects");
        this.quarantine = this.root.resolve("quarantine");
    }

    /** Final path of a blob (may not exist). */
    Path blobPath(Digest digest) {
        String hex = digest.hex();
        // Digest validates algorithm and hex strictly, so both are safe file names.
        return blobs.resolve(digest.algorithm()).resolve(hex.substring(0, 2)).resolve(hex);
    }

    /** projects/&lt;project&gt;/links: the project's links, one file per digest below it. */
    Path linksDir(String project) {
        return projects.resolve(checkSegment(project)).resolve("links");
    }

    Path linkPath(String project, Digest digest) {
        return insideRoot(linksDir(project).resolve(digest.algorithm()).resolve(digest.hex()));
    }

    /** projects/&lt;project&gt;/repos: the project's repositories, each a directory tree holding a _tags/. */
    Path reposDir(String project) {
        return projects.resolve(checkSegment(project)).resolve("repos");
    }

    /** The directory of a repository under its project (may not exist). */
    Path repositoryDir(String project, String repository) {
        Path path = reposDir(project);
        for (String segment : checkRepository(repository).split("/")) {
            path = path.resolve(segment);
        }
        return insideRoot(path);
    }

    Path tagPath(String project, String repository, String tag) {
        return insideRoot(repositoryDir(project, repository).resolve(TAGS_DIR).resolve(checkSegment(tag)));
    }

    /** Belt and braces behind the segment checks: a path this class builds never leaves the root. */
    private Path insideRoot(Path path) {
        Path normal = path.normalize();
        if (!normal.startsWith(projects) || !normal.equals(path)) {
            throw new IllegalArgumentException("path escapes the store: " + path);
        }
        return path;
    }

    /** See {@link ContentStore#checkSegment}. */
    static String checkSegment(String segment) {
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

    /** See {@link ContentStore#checkRepository}. */
    static String checkRepository(String repository) {
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

    static boolean isSafeSegment(String name) {
        try {
            checkSegment(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    static void checkMediaType(String mediaType) {
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

    /** Quotes an untrusted string for a message: abbreviated, control characters escaped. */
    static String printable(String s) {
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
