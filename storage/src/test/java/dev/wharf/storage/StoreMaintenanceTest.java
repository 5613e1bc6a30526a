package dev.wharf.storage;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store's catalog and maintenance operations (admin API, {@code wharf du}, {@code wharf verify}): listing
 * projects, repositories and tags, deleting tags and repositories, walking blobs and links, verification with
 * quarantine, and usage.
 */
class StoreMaintenanceTest {
    private static final String MANIFEST = "application/vnd.oci.image.manifest.v1+json";

    @TempDir
    Path dir;
    ContentStore store;

    @BeforeEach
    void open() throws Exception {
        store = new ContentStore(dir.resolve("root"));
    }

    static Digest sha256(byte[] content) throws Exception {
        return new Digest("sha256", HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content)));
    }

    private Digest put(String text) throws Exception {
        byte[] content = text.getBytes(UTF_8);
        Digest d = sha256(content);
        store.putSmall(d, content);
        return d;
    }

    private void tag(String project, String repo, String tag, Digest d) throws Exception {
        store.putTag(project, repo, tag, new TagEntry(d, MANIFEST, Instant.parse("2024-01-01T00:00:00Z")));
    }

    @Test
    void listsRepositoriesAndTagsIncludingNestedOnes() throws Exception {
        Digest d = put("{\"m\":1}");
        tag("hub", "library/a", "v1", d);
        tag("hub", "library/a", "v2", d);
        tag("hub", "library/a/b", "x", d);
        tag("quay", "org/img", "latest", d);
        assertEquals(List.of("hub", "quay"), store.projectNames());
        assertEquals(List.of("library/a", "library/a/b"), store.repositories("hub"));
        assertEquals(List.of("v1", "v2"), store.tags("hub", "library/a"));
        assertEquals(List.of("x"), store.tags("hub", "library/a/b"));
        assertEquals(List.of(), store.tags("hub", "library/none"));
        assertEquals(List.of(), store.repositories("nothing-here"));
    }

    @Test
    void deletingATagOrARepositoryLeavesNestedRepositoriesAndContent() throws Exception {
        Digest d = put("{\"m\":2}");
        tag("hub", "library/a", "v1", d);
        tag("hub", "library/a", "v2", d);
        tag("hub", "library/a/b", "x", d);

        assertTrue(store.deleteTag("hub", "library/a", "v1"));
        assertFalse(store.deleteTag("hub", "library/a", "v1"), "a second delete finds nothing");
        assertEquals(Optional.empty(), store.tag("hub", "library/a", "v1"));
        assertEquals(List.of("v2"), store.tags("hub", "library/a"));

        assertEquals(1, store.deleteRepository("hub", "library/a"));
        assertEquals(List.of("library/a/b"), store.repositories("hub"), "a/b is another repository and stays");
        assertEquals(0, store.deleteRepository("hub", "library/a"));
        assertTrue(store.blobSize(d).isPresent(), "content is shared by digest and stays");
    }

    @Test
    void walksCommittedBlobsAndLinksButNeverTempFilesOrStrangers() throws Exception {
        Digest a = put("{\"a\":1}");
        Digest b = put("{\"b\":1}");
        store.link("hub", a, MANIFEST);
        store.link("quay", a, null);
        store.link("quay", b, null);
        Files.writeString(store.newTempFile(), "a fill in progress");
        Path prefix = store.blobPath(a).getParent();
        Files.writeString(prefix.resolve(a.hex() + ".bak"), "an editor's backup");

        List<Digest> blobs = new ArrayList<>();
        store.forEachBlob(blobs::add);
        assertEquals(Set.of(a, b), Set.copyOf(blobs));
        assertEquals(2, blobs.size(), "each blob once; the temp file and the backup are not blobs");

        List<Digest> hub = new ArrayList<>();
        store.forEachLink("hub", hub::add);
        assertEquals(List.of(a), hub);
        List<Digest> quay = new ArrayList<>();
        store.forEachLink("quay", quay::add);
        assertEquals(2, quay.size());
    }

    @Test
    void verifyQuarantinesAFlippedByteAndTheStoreForgetsIt() throws Exception {
        Digest good = put("{\"good\":true}");
        Digest bad = put("{\"bad\":false}");
        tag("hub", "library/x", "v1", bad);
        Path badFile = store.blobPath(bad);
        try (RandomAccessFile f = new RandomAccessFile(badFile.toFile(), "rw")) {
            f.seek(3);
            int b = f.read();
            f.seek(3);
            f.write(b ^ 0x01);
        }
        byte[] corrupted = Files.readAllBytes(badFile);

        BlobVerifier verifier = new BlobVerifier(store);
        BlobVerifier.Result ok = verifier.verify(good);
        assertEquals(BlobVerifier.Outcome.OK, ok.outcome());
        BlobVerifier.Result result = verifier.verify(bad);
        assertEquals(BlobVerifier.Outcome.CORRUPT, result.outcome());
        assertEquals(sha256(corrupted), result.actual());
        assertEquals(corrupted.length, result.size());
        assertNotNull(result.quarantined());
        assertTrue(result.quarantined().startsWith(store.quarantineDir()));
        assertTrue(result.quarantined().getFileName().toString().startsWith(bad.hex() + "."));
        assertArrayEquals(corrupted, Files.readAllBytes(result.quarantined()), "the bad bytes are kept for a look");
        assertFalse(Files.exists(badFile), "nothing serves the bad bytes any more");
        assertEquals(Optional.empty(), store.blobSize(bad), "the index forgot it: the next request fetches it again");
        assertTrue(store.blobSize(good).isPresent());
        assertEquals(BlobVerifier.Outcome.VANISHED, verifier.verify(bad).outcome());

        // The good bytes can be stored again under the same name.
        store.putSmall(bad, "{\"bad\":false}".getBytes(UTF_8));
        assertEquals(BlobVerifier.Outcome.OK, verifier.verify(bad).outcome());
    }

    @Test
    void aBlobQuarantinedByAnotherProcessIsForgottenWhenFoundMissing() throws Exception {
        Digest d = put("{\"elsewhere\":1}");
        // Another process (wharf verify beside a running server) opens the same root and quarantines the blob.
        ContentStore other = new ContentStore(store.root());
        assertTrue(other.quarantine(d).isPresent());
        assertTrue(store.blobSize(d).isPresent(), "this store's index has not seen it yet");

        assertEquals(Optional.empty(), store.readSmall(d, 1024), "reading finds the file gone");
        assertEquals(Optional.empty(), store.blobSize(d), "and the index forgets it");
        store.putSmall(d, "{\"elsewhere\":1}".getBytes(UTF_8));
        assertTrue(Files.exists(store.blobPath(d)), "so the next write stores it again instead of skipping it");

        assertTrue(other.quarantine(d).isPresent());
        assertTrue(store.forgetMissing(d));
        assertFalse(store.forgetMissing(d), "nothing left to forget");
    }

    @Test
    void usageCountsLinkedStoredBytesPerProjectAndSharedBlobsOnceInTheTotal() throws Exception {
        Digest a = put("{\"a\":\"" + "x".repeat(100) + "\"}");
        Digest b = put("{\"b\":\"" + "y".repeat(300) + "\"}");
        Digest c = put("{\"c\":3}");
        long sa = Files.size(store.blobPath(a));
        long sb = Files.size(store.blobPath(b));
        long sc = Files.size(store.blobPath(c));
        store.link("hub", a, null);
        store.link("hub", b, null);
        store.link("quay", b, null);
        store.link("quay", c, null);
        Digest gone = sha256("never stored".getBytes(UTF_8));
        store.link("quay", gone, null);
        assertTrue(store.quarantine(c).isPresent());

        StorageUsage usage = StorageUsage.measure(store);
        assertEquals(List.of(new StorageUsage.ProjectUsage("hub", 2, sa + sb, 0),
                new StorageUsage.ProjectUsage("quay", 1, sb, 2)), usage.projects());
        assertEquals(2, usage.blobs());
        assertEquals(sa + sb, usage.bytes());
        assertEquals(1, usage.quarantinedFiles());
        assertEquals(sc, usage.quarantinedBytes());
    }
}
