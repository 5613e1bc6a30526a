package dev.wharf.storage;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A link file that is damaged when the store reopens (garbage bytes, a write cut short to nothing useful, a directory
 * where the file should be) reads as absent, so the project re-confirms the digest with its upstream; nothing throws.
 */
class CorruptLinkTest {
    private static final String MANIFEST = "application/vnd.oci.image.manifest.v1+json";

    @TempDir
    Path parent;

    private static Digest digest(char c) {
        return new Digest("sha256", String.valueOf(c).repeat(64));
    }

    private static Path linkFile(Path root, Digest d) {
        return root.resolve("projects").resolve("hub").resolve("links").resolve(d.algorithm()).resolve(d.hex());
    }

    @Test
    void damagedLinkFilesReadAsAbsentAfterRestart() throws IOException {
        Path root = parent.resolve("root");
        Digest good = digest('a');
        Digest garbage = digest('b');
        Digest truncated = digest('c');
        Digest directory = digest('d');
        Digest oversized = digest('e');
        ContentStore store = new ContentStore(root);
        for (Digest d : List.of(good, garbage, truncated, directory, oversized)) {
            store.link("hub", d, MANIFEST);
        }
        assertTrue(store.link("hub", garbage).isPresent());

        // The damage, as a crash or a disk fault might leave it between runs.
        Files.write(linkFile(root, garbage), new byte[] {0, (byte) 0xff, 0x13, '\n', (byte) 0x80, 7});
        Files.write(linkFile(root, truncated), "application/vnd.oci.image.man\u0000\u0000\u0000".getBytes(UTF_8));
        Files.delete(linkFile(root, directory));
        Files.createDirectories(linkFile(root, directory).resolve("child"));
        Files.write(linkFile(root, oversized), new byte[(int) FileTagStore.MAX_INDEX_FILE + 1]);

        ContentStore reopened = new ContentStore(root);
        assertEquals(MANIFEST, reopened.link("hub", good).orElseThrow().mediaType());
        assertEquals(Optional.empty(), reopened.link("hub", garbage));
        assertEquals(Optional.empty(), reopened.link("hub", truncated));
        assertEquals(Optional.empty(), reopened.link("hub", directory));
        assertEquals(Optional.empty(), reopened.link("hub", oversized));
        List<Digest> listed = new ArrayList<>();
        reopened.forEachLink("hub", listed::add);
        assertTrue(listed.contains(good), listed.toString());

        // Re-confirming repairs the link: the project writes it again over the damaged file.
        reopened.link("hub", garbage, MANIFEST);
        assertEquals(MANIFEST, reopened.link("hub", garbage).orElseThrow().mediaType());
        reopened.link("hub", truncated, null);
        assertEquals(Optional.of(new ContentStore.Link(truncated, null)), reopened.link("hub", truncated));
    }
}
