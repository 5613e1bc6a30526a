package dev.wharf.storage;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ContentStoreTest {
    private static final String MANIFEST = "application/vnd.oci.image.manifest.v1+json";

    @TempDir
    Path parent;
    Path rootDir;
    ContentStore store;

    @BeforeEach
    void open() throws IOException {
        rootDir = parent.resolve("root");
        store = new ContentStore(rootDir);
    }

    static Digest sha256(byte[] content) throws Exception {
        return new Digest("sha256", HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content)));
    }

    @Test
    void createsLayout() {
        assertEquals(rootDir.toAbsolutePath().normalize(), store.root());
        assertTrue(Files.isDirectory(rootDir.resolve("blobs")));
        assertTrue(Files.isDirectory(rootDir.resolve("tmp")));
        assertTrue(Files.isDirectory(rootDir.resolve("projects")));
    }

    @Test
    void putSmallReadSmallRoundTrip() throws Exception {
        byte[] content = "{\"schemaVersion\":2}".getBytes(UTF_8);
        Digest d = sha256(content);
        assertEquals(Optional.empty(), store.readSmall(d, 1024));
        assertEquals(Optional.empty(), store.blobSize(d));

        store.putSmall(d, content);
        assertArrayEquals(content, store.readSmall(d, 1024).orElseThrow());
        assertEquals(Optional.of((long) content.length), store.blobSize(d));
        Path expected = rootDir.resolve("blobs/sha256").resolve(d.hex().substring(0, 2)).resolve(d.hex());
        assertEquals(expected.toAbsolutePath(), store.blobPath(d));
        assertTrue(Files.isRegularFile(expected));
        assertEquals(List.of(), list(rootDir.resolve("tmp")), "no temp file left behind");

        store.putSmall(d, content); // already stored: no-op
        assertArrayEquals(content, store.readSmall(d, 1024).orElseThrow());
        assertThrows(IOException.class, () -> store.readSmall(d, content.length - 1));
    }

    @Test
    void putSmallRefusesContentThatDoesNotMatchItsDigest() throws Exception {
        Digest d = sha256("one".getBytes(UTF_8));
        assertThrows(IllegalArgumentException.class, () -> store.putSmall(d, "two".getBytes(UTF_8)));
        assertEquals(Optional.empty(), store.blobSize(d));
        assertEquals(List.of(), list(rootDir.resolve("tmp")));
    }

    @Test
    void commitRenamesTempIntoPlace() throws Exception {
        byte[] content = "layer".getBytes(UTF_8);
        Digest d = sha256(content);
        Path temp = store.newTempFile();
        assertEquals(rootDir.resolve("tmp").toAbsolutePath(), temp.getParent());
        Files.write(temp, content);
        store.commit(temp, d);
        assertFalse(Files.exists(temp));
        assertArrayEquals(content, Files.readAllBytes(store.blobPath(d)));

        Path outside = Files.createFile(parent.resolve("elsewhere"));
        assertThrows(IllegalArgumentException.class, () -> store.commit(outside, d));
        assertTrue(Files.exists(outside));
    }

    @Test
    void linksWithAndWithoutMediaType() throws Exception {
        Digest blob = sha256("blob".getBytes(UTF_8));
        Digest manifest = sha256("manifest".getBytes(UTF_8));
        assertEquals(Optional.empty(), store.link("docker.io", blob));

        store.link("docker.io", blob, null);
        store.link("docker.io", manifest, MANIFEST);
        ContentStore.Link b = store.link("docker.io", blob).orElseThrow();
        assertEquals(blob, b.digest());
        assertNull(b.mediaType());
        assertEquals(MANIFEST, store.link("docker.io", manifest).orElseThrow().mediaType());
        assertEquals(Optional.empty(), store.link("ghcr.io", blob), "links are per project");

        // A null media type never erases a recorded one; a new one replaces it.
        store.link("docker.io", manifest, null);
        assertEquals(MANIFEST, store.link("docker.io", manifest).orElseThrow().mediaType());
        store.link("docker.io", manifest, "application/vnd.oci.image.index.v1+json");
        assertEquals("application/vnd.oci.image.index.v1+json",
                store.link("docker.io", manifest).orElseThrow().mediaType());
        // A blob link can learn its media type later.
        store.link("docker.io", blob, MANIFEST);
        assertEquals(MANIFEST, store.link("docker.io", blob).orElseThrow().mediaType());

        assertTrue(Files.isRegularFile(rootDir.resolve("projects/docker.io/links/sha256").resolve(blob.hex())));
        assertThrows(IllegalArgumentException.class, () -> store.link("docker.io", blob, "text/plain\nx=y"));
        assertEquals(List.of(), list(rootDir.resolve("tmp")));
    }

    @Test
    void tagsRoundTripAndReplace() throws Exception {
        Digest one = sha256("1".getBytes(UTF_8));
        Digest two = sha256("2".getBytes(UTF_8));
        Instant at = Instant.parse("2024-05-01T10:15:30.123456789Z");
        assertEquals(Optional.empty(), store.tag("docker.io", "library/nginx", "latest"));

        TagEntry entry = new TagEntry(one, MANIFEST, at);
        store.putTag("docker.io", "library/nginx", "latest", entry);
        assertEquals(Optional.of(entry), store.tag("docker.io", "library/nginx", "latest"));
        assertEquals(Optional.empty(), store.tag("docker.io", "library/nginx", "Latest"));
        assertEquals(Optional.empty(), store.tag("docker.io", "library", "latest"));
        assertEquals(Optional.empty(), store.tag("quay.io", "library/nginx", "latest"));

        TagEntry replaced = new TagEntry(two, "application/vnd.oci.image.index.v1+json", at.plusSeconds(60));
        store.putTag("docker.io", "library/nginx", "latest", replaced);
        assertEquals(Optional.of(replaced), store.tag("docker.io", "library/nginx", "latest"));

        // Upper-case tags and project names are fine for storage; tags may begin with '_'.
        store.putTag("MyProject", "a/b/c", "V1.0_rc-1", entry);
        store.putTag("MyProject", "a/b/c", "_x", entry);
        assertEquals(Optional.of(entry), store.tag("MyProject", "a/b/c", "V1.0_rc-1"));
        assertEquals(Optional.of(entry), store.tag("MyProject", "a/b/c", "_x"));

        // Repository "a" with tag "b" and repository "a/tags/b" coexist.
        store.putTag("p", "a", "tags", entry);
        store.putTag("p", "a/tags", "b", replaced);
        store.putTag("p", "a/tags/b", "c", entry);
        assertEquals(Optional.of(entry), store.tag("p", "a", "tags"));
        assertEquals(Optional.of(replaced), store.tag("p", "a/tags", "b"));
        assertEquals(Optional.of(entry), store.tag("p", "a/tags/b", "c"));

        assertThrows(IllegalArgumentException.class,
                () -> store.putTag("p", "a", "t", new TagEntry(one, "text/plain\ndigest=x", at)));
        assertEquals(List.of(), list(rootDir.resolve("tmp")));
    }

    @Test
    void corruptOrPartialTagFileReadsAsEmpty() throws Exception {
        Digest one = sha256("1".getBytes(UTF_8));
        store.putTag("docker.io", "library/nginx", "latest", new TagEntry(one, MANIFEST, Instant.EPOCH));
        Path file = rootDir.resolve("projects/docker.io/repos/library/nginx/_tags/latest");
        assertTrue(Files.isRegularFile(file));
        String good = Files.readString(file);

        for (String bad : List.of(
                "",
                good.substring(0, good.length() / 2),           // truncated
                "digest=sha256:zz\nmediaType=x\nfetchedAt=1970-01-01T00:00:00Z\n",
                "digest=" + one + "\nmediaType=x\nfetchedAt=yesterday\n",
                "digest=" + one + "\nfetchedAt=1970-01-01T00:00:00Z\n",
                "garbage without equals\n",
                "\u0000\u0001\u0002")) {
            Files.writeString(file, bad);
            assertEquals(Optional.empty(), store.tag("docker.io", "library/nginx", "latest"), bad);
        }
        Files.write(file, new byte[64 * 1024]); // too big to be a tag file
        assertEquals(Optional.empty(), store.tag("docker.io", "library/nginx", "latest"));
        Files.delete(file);
        Files.createDirectory(file); // a directory where the file should be
        assertEquals(Optional.empty(), store.tag("docker.io", "library/nginx", "latest"));
    }

    @Test
    void cleanTempDeletesEverythingUnderTmpOnly() throws Exception {
        byte[] content = "keep".getBytes(UTF_8);
        Digest d = sha256(content);
        store.putSmall(d, content);
        Path t1 = store.newTempFile();
        Files.write(t1, new byte[100]);
        Path nested = Files.createDirectories(rootDir.resolve("tmp/dir/sub"));
        Files.write(nested.resolve("f"), new byte[1]);
        Path victim = Files.writeString(parent.resolve("victim"), "x");
        Files.createSymbolicLink(rootDir.resolve("tmp/link"), victim);

        store.cleanTemp();
        assertEquals(List.of(), list(rootDir.resolve("tmp")));
        assertTrue(Files.isDirectory(rootDir.resolve("tmp")));
        assertTrue(Files.exists(victim), "a symbolic link is deleted, never its target");
        assertArrayEquals(content, store.readSmall(d, 100).orElseThrow());
        store.newTempFile(); // still usable
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", ".", "..", "a/b", "/", "a\\b", "%2e%2e", "%2F", "a b", "a:b", "a\u0000b", "a\nb", "ä", "~", "*", "a?",
    })
    void checkSegmentRejects(String segment) {
        assertThrows(IllegalArgumentException.class, () -> ContentStore.checkSegment(segment));
    }

    @Test
    void checkSegmentLimits() {
        assertThrows(IllegalArgumentException.class, () -> ContentStore.checkSegment(null));
        assertEquals("x".repeat(255), ContentStore.checkSegment("x".repeat(255)));
        assertThrows(IllegalArgumentException.class, () -> ContentStore.checkSegment("x".repeat(256)));
        for (String ok : List.of("a", "docker.io", "Latest", "v1.0_RC-1", "...", ".hidden", "_x", "-")) {
            assertEquals(ok, ContentStore.checkSegment(ok));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", "/", "library/", "/library", "library//nginx", "library/../../etc", "../x", "a/./b", "a/%2e%2e/b",
        "a/_tags", "_x", "a\\..\\b",
    })
    void checkRepositoryRejects(String repository) {
        assertThrows(IllegalArgumentException.class, () -> ContentStore.checkRepository(repository));
    }

    @Test
    void checkRepositoryAccepts() {
        for (String ok : List.of("nginx", "library/nginx", "a/b/c/d", "my-org/my.repo_x")) {
            assertEquals(ok, ContentStore.checkRepository(ok));
        }
    }

    @Test
    void nothingIsEverCreatedOutsideTheRoot() throws Exception {
        Digest d = sha256("x".getBytes(UTF_8));
        TagEntry entry = new TagEntry(d, MANIFEST, Instant.EPOCH);
        List<String> badProjects = List.of("..", ".", "", "../evil", "a/b", "%2e%2e");
        List<String> badRepos = List.of("library/../../etc", "../../..", "../evil", "a/../../../evil", "/abs", "");
        List<String> badTags = List.of("..", "../evil", "a/b", "");

        for (String project : badProjects) {
            assertThrows(IllegalArgumentException.class, () -> store.link(project, d, null), project);
            assertThrows(IllegalArgumentException.class, () -> store.link(project, d), project);
            assertThrows(IllegalArgumentException.class, () -> store.putTag(project, "r", "t", entry), project);
            assertThrows(IllegalArgumentException.class, () -> store.tag(project, "r", "t"), project);
        }
        for (String repo : badRepos) {
            assertThrows(IllegalArgumentException.class, () -> store.putTag("p", repo, "t", entry), repo);
            assertThrows(IllegalArgumentException.class, () -> store.tag("p", repo, "t"), repo);
        }
        for (String tag : badTags) {
            assertThrows(IllegalArgumentException.class, () -> store.putTag("p", "r", tag, entry), tag);
            assertThrows(IllegalArgumentException.class, () -> store.tag("p", "r", tag), tag);
        }

        // The parent of the root holds only the root, and the root holds only its own layout, all of it empty.
        assertEquals(List.of("root"), list(parent));
        assertEquals(List.of("blobs", "projects", "tmp"), list(rootDir));
        try (Stream<Path> all = Files.walk(rootDir)) {
            List<Path> files = all.filter(p -> !Files.isDirectory(p)).collect(Collectors.toList());
            assertEquals(List.of(), files);
        }
        assertEquals(List.of(), list(rootDir.resolve("projects")), "not even a directory for a rejected name");
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }
}
