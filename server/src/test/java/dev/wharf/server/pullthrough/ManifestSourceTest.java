package dev.wharf.server.pullthrough;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.server.api.CacheResult;
import dev.wharf.server.api.Reference;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.api.RepositoryName;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.metrics.WharfMetrics;
import dev.wharf.server.upstream.Project;
import dev.wharf.server.upstream.UpstreamCall;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.testing.ManualClock;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ManifestSource} through its interfaces: a real {@link ContentStore} on a temp directory, and a scripted
 * upstream ({@link ScriptedUpstream}) that counts what the source asks for.
 */
class ManifestSourceTest {
    private static final String TYPE = "application/vnd.oci.image.manifest.v1+json";
    private static final byte[] BODY = ("{\"schemaVersion\":2,\"mediaType\":\"" + TYPE + "\",\"config\":{},\"layers\":[]}")
            .getBytes(StandardCharsets.UTF_8);
    private static final Digest DIGEST = Digest.sha256(BODY);
    private static final RepositoryName NAME = new RepositoryName("library/app");

    @TempDir
    Path dir;
    private ContentStore store;
    private ExecutorService io;
    private ManualClock clock;
    private final ScriptedUpstream upstream = new ScriptedUpstream();
    private ManifestSource source;
    private final Project hub = project("hub");
    private final Project other = project("other");

    @BeforeEach
    void setUp() throws Exception {
        store = new ContentStore(dir.resolve("store"));
        io = Executors.newFixedThreadPool(2);
        clock = new ManualClock();
        source = new ManifestSource(store, upstream, io, clock, new WharfMetrics(), new TagCache());
    }

    @AfterEach
    void tearDown() throws Exception {
        io.shutdown();
        assertTrue(io.awaitTermination(10, TimeUnit.SECONDS));
    }

    @Test
    void aTagWithinItsTtlIsAnsweredWithoutAskingTheUpstreamAgain() {
        upstream.on(UpstreamCall.ManifestGet.class, c -> ScriptedUpstream.answer(200, BODY, "Content-Type", TYPE));
        Manifest first = get(hub, "latest");
        Manifest second = get(hub, "latest");
        assertEquals(DIGEST, first.digest());
        assertEquals(CacheResult.MISS, first.cache());
        assertEquals(CacheResult.HIT, second.cache());
        assertArrayEquals(BODY, second.body());
        assertEquals(1, upstream.count(UpstreamCall.ManifestGet.class));
        assertEquals(0, upstream.count(UpstreamCall.ManifestHead.class));
    }

    @Test
    void pastItsTtlATagIsRevalidatedWithOneHeadAndNoGet() {
        upstream.on(UpstreamCall.ManifestGet.class, c -> ScriptedUpstream.answer(200, BODY, "Content-Type", TYPE));
        upstream.on(UpstreamCall.ManifestHead.class, c -> ScriptedUpstream.answer(200, new byte[0],
                "Docker-Content-Digest", DIGEST.toString(), "Content-Length", Integer.toString(BODY.length)));
        get(hub, "latest");
        clock.advance(Duration.ofMinutes(6)); // the project's tagTtl is 5m
        Manifest revalidated = get(hub, "latest");
        assertEquals(CacheResult.REVALIDATED, revalidated.cache());
        assertEquals(1, upstream.count(UpstreamCall.ManifestGet.class));
        assertEquals(1, upstream.count(UpstreamCall.ManifestHead.class));
        assertEquals(CacheResult.HIT, get(hub, "latest").cache(), "the HEAD renewed the entry's TTL");
    }

    @Test
    void anUpstreamFailingRevalidationGetsTheCachedManifestServedStale() {
        upstream.on(UpstreamCall.ManifestGet.class, c -> ScriptedUpstream.answer(200, BODY, "Content-Type", TYPE));
        upstream.on(UpstreamCall.ManifestHead.class, c -> ScriptedUpstream.answer(503, new byte[0]));
        get(hub, "latest");
        clock.advance(Duration.ofHours(1));
        Manifest stale = get(hub, "latest");
        assertTrue(stale.stale());
        assertEquals(CacheResult.STALE, stale.cache());
        assertArrayEquals(BODY, stale.body());
    }

    @Test
    void concurrentRequestsForOneTagShareOneUpstreamCall() {
        CompletableFuture<dev.wharf.server.upstream.UpstreamResponse> gate = new CompletableFuture<>();
        upstream.on(UpstreamCall.ManifestGet.class, c -> gate);
        List<CompletableFuture<Manifest>> all = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            all.add(source.manifest(hub, NAME, Reference.parse("latest"), null, false));
        }
        gate.complete(new dev.wharf.server.upstream.UpstreamResponse(200,
                new io.netty.handler.codec.http.DefaultHttpHeaders().set("Content-Type", TYPE), BODY));
        for (CompletableFuture<Manifest> f : all) {
            assertEquals(DIGEST, f.join().digest());
        }
        assertEquals(1, upstream.count(UpstreamCall.ManifestGet.class));
    }

    @Test
    void wrongBytesForADigestAreRefusedAndNeverStored() throws Exception {
        byte[] wrong = "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8);
        upstream.on(UpstreamCall.ManifestGet.class, c -> ScriptedUpstream.answer(200, wrong, "Content-Type", TYPE));
        CompletionException e = assertThrows(CompletionException.class, () -> source.manifest(hub, NAME,
                Reference.parse(DIGEST.toString()), null, false).join());
        RegistryException re = assertInstanceOf(RegistryException.class, e.getCause());
        assertEquals(502, re.statusCode());
        assertTrue(store.readSmall(DIGEST, 1 << 20).isEmpty(), "nothing stored under the digest asked for");
        assertTrue(store.readSmall(Digest.sha256(wrong), 1 << 20).isEmpty(), "nor under the digest of the wrong bytes");
    }

    @Test
    void aManifestStoredForOneProjectIsServedToAnotherOnlyAfterItsUpstreamConfirms() {
        upstream.on(UpstreamCall.ManifestGet.class, c -> ScriptedUpstream.answer(200, BODY, "Content-Type", TYPE));
        Reference byDigest = Reference.parse(DIGEST.toString());
        assertEquals(CacheResult.MISS, source.manifest(hub, NAME, byDigest, null, false).join().cache());

        upstream.on(UpstreamCall.ManifestHead.class, c -> ScriptedUpstream.answer(404, new byte[0]));
        CompletionException denied = assertThrows(CompletionException.class,
                () -> source.manifest(other, NAME, byDigest, null, false).join());
        assertEquals(404, assertInstanceOf(RegistryException.class, denied.getCause()).statusCode());

        upstream.on(UpstreamCall.ManifestHead.class, c -> ScriptedUpstream.answer(200, new byte[0],
                "Content-Type", TYPE, "Docker-Content-Digest", DIGEST.toString()));
        Manifest confirmed = source.manifest(other, NAME, byDigest, null, false).join();
        assertEquals(CacheResult.REVALIDATED, confirmed.cache());
        assertEquals(1, upstream.count(UpstreamCall.ManifestGet.class), "the bytes were fetched once, for hub");
        assertEquals(CacheResult.HIT, source.manifest(other, NAME, byDigest, null, false).join().cache());
    }

    @Test
    void aNarrowAcceptThatTheUpstreamDoesNotHaveIsRememberedForTheNegativeTtl() {
        upstream.on(UpstreamCall.ManifestGet.class, c -> ScriptedUpstream.answer(404, new byte[0]));
        String narrow = "application/vnd.docker.distribution.manifest.v2+json";
        for (int i = 0; i < 5; i++) {
            assertThrows(CompletionException.class,
                    () -> source.manifest(hub, NAME, Reference.parse("multi"), narrow, false).join());
        }
        assertEquals(1, upstream.count(UpstreamCall.ManifestGet.class));
        clock.advance(ManifestSource.NEGATIVE_TTL.plusSeconds(1));
        assertThrows(CompletionException.class,
                () -> source.manifest(hub, NAME, Reference.parse("multi"), narrow, false).join());
        assertEquals(2, upstream.count(UpstreamCall.ManifestGet.class));
    }

    private Manifest get(Project project, String tag) {
        return source.manifest(project, NAME, Reference.parse(tag), null, false).join();
    }

    private static Project project(String name) {
        return new Project(new ProjectConfig(name, URI.create("http://127.0.0.1:9"), List.of(), Duration.ofMinutes(5),
                null), null);
    }
}
