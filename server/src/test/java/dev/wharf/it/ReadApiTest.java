package dev.wharf.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Blob;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.ImageSeeder.Index;
import dev.wharf.testing.ImageSeeder.Platform;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The read API of wharf against a real distribution registry: HEAD without an upstream GET, manifest headers and
 * bytes, ranges, tag list paging, referrers, isolation between projects, the tag TTL and request sharing. Every
 * test starts its own wharf on fresh storage; upstream traffic is counted from the registry's access log.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class ReadApiTest {
    /** What containerd 1.6 sends when it resolves a tag (see shared/DESIGN.md). */
    private static final String CONTAINERD_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json, "
            + "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, "
            + "application/vnd.oci.image.index.v1+json, */*";
    /** What skopeo 1.9 (containers/image) sends: one Accept header field per media type, OCI manifest first. */
    private static final List<String> SKOPEO_ACCEPTS = List.of(ImageSeeder.OCI_MANIFEST, ImageSeeder.DOCKER_MANIFEST,
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            "application/vnd.docker.distribution.manifest.v1+json", ImageSeeder.DOCKER_MANIFEST_LIST,
            ImageSeeder.OCI_INDEX);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern LINK = Pattern.compile("^<([^>]+)>;\\s*rel=\"next\"$");

    private static DistributionRegistry upstream;
    private static ImageSeeder seeder;
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void startUpstream(DistributionRegistry r, ImageSeeder s) {
        upstream = r;
        seeder = s;
    }

    private static InProcessWharf hub(Path storage) throws Exception {
        return InProcessWharf.start(storage,
                WharfYaml.config().project(WharfYaml.project("hub", upstream.url()).aliases("docker.io")));
    }

    // ------------------------------------------------------------------------------------------------ a. HEAD

    @Test
    void headOfUncachedContentAsksTheUpstreamWithHeadOnly(@TempDir Path tmp) throws Exception {
        Image image = seeder.pushOciImage(upstream.url(), "read/head", "v1", 64 << 10, 201);
        Image docker = seeder.pushDockerImage(upstream.url(), "read/headdocker", "v1", 16 << 10, 202);
        try (InProcessWharf wharf = hub(tmp)) {
            for (Image img : List.of(image, docker)) {
                String byTag = "/v2/" + img.repo() + "/manifests/" + img.tag();
                String byDigest = "/v2/" + img.repo() + "/manifests/" + img.manifestDigest();
                for (String path : List.of(byTag, byDigest)) {
                    long heads = upstream.countRequests("HEAD", path);
                    HttpResponse<byte[]> head = wharf.head("/v2/hub" + path.substring(3), "Accept", CONTAINERD_ACCEPT);
                    assertEquals(200, head.statusCode(), "HEAD " + path);
                    assertEquals(img.manifestSize(), contentLength(head), "Content-Length of HEAD " + path);
                    assertEquals(img.manifestDigest(), header(head, "Docker-Content-Digest"), "HEAD " + path);
                    assertEquals(img.mediaType(), header(head, "Content-Type"), "HEAD " + path);
                    assertEquals(heads + 1, upstream.countRequests("HEAD", path), "the upstream saw one HEAD of " + path);
                    assertEquals(0, upstream.countRequests("GET", path), "the upstream saw no GET of " + path);
                }
            }
            for (int i = 0; i < image.blobDigests().size(); i++) {
                String digest = image.blobDigests().get(i);
                String path = "/v2/" + image.repo() + "/blobs/" + digest;
                long heads = upstream.countRequests("HEAD", path); // the seeder asked too, before its push
                HttpResponse<byte[]> head = wharf.head("/v2/hub" + path.substring(3));
                assertEquals(200, head.statusCode(), "HEAD " + path);
                assertEquals(image.blobSizes().get(i), contentLength(head), "Content-Length of HEAD " + path);
                assertEquals(digest, header(head, "Docker-Content-Digest"), "HEAD " + path);
                assertEquals(heads + 1, upstream.countRequests("HEAD", path), "the upstream saw one HEAD of " + path);
                assertEquals(0, upstream.countRequests("GET", path), "the upstream saw no GET of " + path);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ b. GET manifest

    @Test
    void manifestGetsByTagAndDigestCarryTheUpstreamsBytesAndHeaders(@TempDir Path tmp) throws Exception {
        Image oci = seeder.pushOciImage(upstream.url(), "read/get-oci", "v1", 16 << 10, 211);
        Image docker = seeder.pushDockerImage(upstream.url(), "read/get-docker", "v1", 16 << 10, 212);
        Index index = seeder.pushIndex(upstream.url(), "read/get-index", "v1",
                List.of(Platform.LINUX_AMD64, Platform.LINUX_ARM64), 16 << 10, 213);
        record Expected(String repo, String tag, String digest, String mediaType, byte[] manifest) {
        }
        List<Expected> all = List.of(
                new Expected(oci.repo(), oci.tag(), oci.manifestDigest(), oci.mediaType(), oci.manifest()),
                new Expected(docker.repo(), docker.tag(), docker.manifestDigest(), docker.mediaType(), docker.manifest()),
                new Expected(index.repo(), index.tag(), index.manifestDigest(), index.mediaType(), index.manifest()));
        try (InProcessWharf wharf = hub(tmp)) {
            for (Expected e : all) {
                byte[] direct = upstreamGet("/v2/" + e.repo() + "/manifests/" + e.tag(), "Accept", CONTAINERD_ACCEPT).body();
                assertArrayEquals(e.manifest(), direct, "the upstream holds the seeded bytes");
                // Twice each: the first answer is fetched, the second comes from the cache.
                for (String ref : List.of(e.tag(), e.digest(), e.tag(), e.digest())) {
                    String path = "/v2/hub/" + e.repo() + "/manifests/" + ref;
                    HttpResponse<byte[]> got = wharf.get(path, "Accept", CONTAINERD_ACCEPT);
                    assertEquals(200, got.statusCode(), "GET " + path + ": " + text(got));
                    assertEquals(e.mediaType(), header(got, "Content-Type"), "Content-Type of GET " + path);
                    assertEquals(e.manifest().length, contentLength(got), "Content-Length of GET " + path);
                    assertEquals(e.digest(), header(got, "Docker-Content-Digest"), "GET " + path);
                    assertArrayEquals(direct, got.body(), "bytes of GET " + path);
                }
            }
            // Child manifests of the index, by digest, with the descriptor's media type as containerd asks.
            for (Image child : index.images()) {
                String path = "/v2/hub/" + index.repo() + "/manifests/" + child.manifestDigest();
                HttpResponse<byte[]> got = wharf.get(path, "Accept", child.mediaType() + ", */*");
                assertEquals(200, got.statusCode(), "GET " + path + ": " + text(got));
                assertEquals(child.manifestDigest(), ImageSeeder.sha256(got.body()));
                assertEquals(child.mediaType(), header(got, "Content-Type"));
            }
        }
    }

    @Test
    void anAcceptListSentAsSeveralHeaderFieldsIsOneList(@TempDir Path tmp) throws Exception {
        // skopeo, podman and CRI-O send one Accept field per media type, the OCI manifest first. Forwarding only the
        // first field makes distribution rewrite a Docker schema 2 manifest to signed schema 1 (whose bytes do not
        // match its digest) and refuse an index with 404.
        Image docker = seeder.pushDockerImage(upstream.url(), "read/accept-docker", "v1", 16 << 10, 221);
        Index index = seeder.pushIndex(upstream.url(), "read/accept-index", "v1",
                List.of(Platform.LINUX_AMD64, Platform.LINUX_ARM64), 16 << 10, 222);
        String[] headers = SKOPEO_ACCEPTS.stream().flatMap(t -> List.of("Accept", t).stream()).toArray(String[]::new);
        try (InProcessWharf wharf = hub(tmp)) {
            for (String ref : List.of(docker.tag(), docker.manifestDigest())) {
                HttpResponse<byte[]> got = wharf.get("/v2/hub/" + docker.repo() + "/manifests/" + ref, headers);
                assertEquals(200, got.statusCode(), text(got));
                assertEquals(ImageSeeder.DOCKER_MANIFEST, header(got, "Content-Type"));
                assertArrayEquals(docker.manifest(), got.body());
            }
            HttpResponse<byte[]> got = wharf.get("/v2/hub/" + index.repo() + "/manifests/" + index.tag(), headers);
            assertEquals(200, got.statusCode(), text(got));
            assertEquals(ImageSeeder.OCI_INDEX, header(got, "Content-Type"));
            assertArrayEquals(index.manifest(), got.body());
        }
    }

    // ------------------------------------------------------------------------------------------------ c. Range

    @Test
    void rangesOnWarmAndColdBlobs(@TempDir Path tmp) throws Exception {
        Blob warm = seeder.pushRandomBlob(upstream.url(), "read/range", 1 << 20, 301);
        Blob cold = seeder.pushRandomBlob(upstream.url(), "read/range", (1 << 20) + 7, 302);
        byte[] warmBytes = upstreamGet("/v2/read/range/blobs/" + warm.digest()).body();
        byte[] coldBytes = upstreamGet("/v2/read/range/blobs/" + cold.digest()).body();
        assertEquals(warm.digest(), ImageSeeder.sha256(warmBytes));
        try (InProcessWharf wharf = hub(tmp)) {
            String warmPath = "/v2/hub/read/range/blobs/" + warm.digest();
            HttpResponse<byte[]> whole = wharf.get(warmPath);
            assertEquals(200, whole.statusCode(), text(whole));
            assertArrayEquals(warmBytes, whole.body());

            HttpResponse<byte[]> part = wharf.get(warmPath, "Range", "bytes=10-19");
            assertEquals(206, part.statusCode(), text(part));
            assertEquals("bytes 10-19/" + warm.size(), header(part, "Content-Range"));
            assertEquals(10, contentLength(part));
            assertArrayEquals(Arrays.copyOfRange(warmBytes, 10, 20), part.body());

            HttpResponse<byte[]> beyond = wharf.get(warmPath, "Range", "bytes=" + warm.size() + "-");
            assertEquals(416, beyond.statusCode(), text(beyond));
            assertEquals("RANGE_INVALID", errorCode(beyond), text(beyond));

            // Cold: the first request for the blob asks for a range in its middle.
            String coldPath = "/v2/hub/read/range/blobs/" + cold.digest();
            long start = 700_001;
            long end = 700_100;
            HttpResponse<byte[]> coldPart = wharf.get(coldPath, "Range", "bytes=" + start + "-" + end);
            assertEquals(206, coldPart.statusCode(), text(coldPart));
            assertEquals("bytes " + start + "-" + end + "/" + cold.size(), header(coldPart, "Content-Range"));
            assertArrayEquals(Arrays.copyOfRange(coldBytes, (int) start, (int) end + 1), coldPart.body());
            HttpResponse<byte[]> coldWhole = wharf.get(coldPath);
            assertEquals(200, coldWhole.statusCode(), text(coldWhole));
            assertArrayEquals(coldBytes, coldWhole.body());
            // The test's own direct GET, plus wharf's one fill.
            assertEquals(2, upstream.countRequests("GET", "/blobs/" + cold.digest()),
                    "the cold range request filled the cache with the whole blob");
        }
    }

    // ------------------------------------------------------------------------------------------------ d. tags/list

    @Test
    void tagListsAreSortedAndPagedByWharf(@TempDir Path tmp) throws Exception {
        String repo = "read/tags";
        Image image = seeder.pushOciImage(upstream.url(), repo, "base", 0, 401);
        List<String> more = List.of("v1.10", "v1.9", "v10", "v2", "latest", "Alpha", "alpha", "beta-1", "beta_2",
                "0.1", "1.0", "10.0", "9.0", "rc.1", "rc.10", "rc.2", "z", "Z", "a-b", "a.b", "a_b", "x1", "x10", "x2");
        for (String tag : more) {
            seeder.tag(upstream.url(), image, tag);
        }
        List<String> sorted = new ArrayList<>(new TreeSet<>(more));
        sorted.add("base");
        sorted = new ArrayList<>(new TreeSet<>(sorted));
        assertEquals(25, sorted.size());

        try (InProcessWharf wharf = hub(tmp)) {
            String path = "/v2/hub/" + repo + "/tags/list";
            HttpResponse<byte[]> all = wharf.get(path);
            assertEquals(200, all.statusCode(), text(all));
            JsonNode body = JSON.readTree(all.body());
            assertEquals("hub/" + repo, body.get("name").asText());
            assertEquals(sorted, tags(body), "all tags, sorted lexically");
            assertTrue(all.headers().firstValue("Link").isEmpty(), "no Link without n");

            List<String> paged = new ArrayList<>();
            List<Integer> sizes = new ArrayList<>();
            String next = path + "?n=10";
            for (int i = 0; next != null; i++) {
                assertTrue(i < 10, "paging ends");
                HttpResponse<byte[]> page = wharf.get(next);
                assertEquals(200, page.statusCode(), "GET " + next + ": " + text(page));
                List<String> pageTags = tags(JSON.readTree(page.body()));
                paged.addAll(pageTags);
                sizes.add(pageTags.size());
                next = null;
                String link = page.headers().firstValue("Link").orElse(null);
                if (link != null) {
                    Matcher m = LINK.matcher(link);
                    assertTrue(m.matches(), "Link header: " + link);
                    URI target = URI.create(m.group(1));
                    assertEquals(null, target.getHost(), "Link is a path on wharf itself: " + link);
                    assertEquals(path, target.getRawPath(), "Link points at wharf's own path: " + link);
                    next = target.toString();
                }
            }
            assertEquals(List.of(10, 10, 5), sizes);
            assertEquals(sorted, paged, "the pages put together are the whole sorted list");

            assertEquals(sorted.subList(13, 25), tags(JSON.readTree(wharf.get(path + "?last=" + sorted.get(12)).body())));
            assertEquals(sorted.subList(6, 9),
                    tags(JSON.readTree(wharf.get(path + "?n=3&last=" + sorted.get(5)).body())));
            List<String> afterM = sorted.stream().filter(t -> t.compareTo("m") > 0).collect(Collectors.toList());
            assertEquals(afterM, tags(JSON.readTree(wharf.get(path + "?last=m").body())),
                    "last need not be a tag that exists");
            assertEquals(List.of(), tags(JSON.readTree(wharf.get(path + "?last=" + sorted.get(24)).body())));
        }
    }

    @Test
    void dockerHubStyleTagListsThroughNs(@TempDir Path tmp) throws Exception {
        Image image = seeder.pushOciImage(upstream.url(), "library/tagsns", "b", 0, 402);
        seeder.tag(upstream.url(), image, "c");
        seeder.tag(upstream.url(), image, "a");
        try (InProcessWharf wharf = hub(tmp)) {
            HttpResponse<byte[]> all = wharf.get("/v2/library/tagsns/tags/list?ns=docker.io");
            assertEquals(200, all.statusCode(), text(all));
            assertEquals(List.of("a", "b", "c"), tags(JSON.readTree(all.body())));

            HttpResponse<byte[]> first = wharf.get("/v2/library/tagsns/tags/list?n=2&ns=docker.io");
            assertEquals(200, first.statusCode(), text(first));
            assertEquals(List.of("a", "b"), tags(JSON.readTree(first.body())));
            String link = first.headers().firstValue("Link").orElseThrow(() -> new AssertionError("no Link"));
            Matcher m = LINK.matcher(link);
            assertTrue(m.matches(), link);
            URI target = URI.create(m.group(1));
            assertEquals("/v2/library/tagsns/tags/list", target.getRawPath(), link);
            assertTrue(target.getRawQuery().contains("ns=docker.io"), "the next page keeps ?ns=: " + link);
            HttpResponse<byte[]> second = wharf.get(target.toString());
            assertEquals(200, second.statusCode(), text(second));
            assertEquals(List.of("c"), tags(JSON.readTree(second.body())));
        }
    }

    // ------------------------------------------------------------------------------------------------ e. referrers

    @Test
    void referrersOfAnUpstreamWithoutTheApiAreAnEmptyIndex(@TempDir Path tmp) throws Exception {
        Image image = seeder.pushOciImage(upstream.url(), "read/referrers", "v1", 0, 501);
        try (InProcessWharf wharf = hub(tmp)) {
            String path = "/v2/hub/read/referrers/referrers/" + image.manifestDigest();
            HttpResponse<byte[]> got = wharf.get(path);
            assertEquals(200, got.statusCode(), text(got));
            assertEquals(ImageSeeder.OCI_INDEX, header(got, "Content-Type"));
            JsonNode body = JSON.readTree(got.body());
            assertEquals(2, body.get("schemaVersion").asInt(), text(got));
            assertEquals(ImageSeeder.OCI_INDEX, body.get("mediaType").asText(), text(got));
            assertTrue(body.get("manifests").isArray() && body.get("manifests").isEmpty(), text(got));
            assertEquals(1, upstream.countRequests("GET", "/v2/read/referrers/referrers/" + image.manifestDigest()),
                    "the request was passed to the upstream");
        }
    }

    // ------------------------------------------------------------------------------------------------ f. isolation

    @Test
    void contentCachedForOneProjectIsServedToAnotherOnlyOnceItsUpstreamHasIt(@TempDir Path tmp) throws Exception {
        try (DistributionRegistry b = DistributionRegistry.start();
                InProcessWharf wharf = InProcessWharf.start(tmp, WharfYaml.config()
                        .project(WharfYaml.project("a", upstream.url())).project(WharfYaml.project("b", b.url())))) {
            Blob x = seeder.pushRandomBlob(upstream.url(), "iso/data", 256 << 10, 601);
            Image image = seeder.pushOciImage(upstream.url(), "iso/app", "v1", 16 << 10, 602);
            String blobPath = "/blobs/" + x.digest();
            String manifestPath = "/manifests/" + image.manifestDigest();

            HttpResponse<byte[]> viaA = wharf.get("/v2/a/iso/data" + blobPath);
            assertEquals(200, viaA.statusCode(), text(viaA));
            assertEquals(x.digest(), ImageSeeder.sha256(viaA.body()));
            HttpResponse<byte[]> manifestViaA = wharf.get("/v2/a/iso/app" + manifestPath, "Accept", CONTAINERD_ACCEPT);
            assertEquals(200, manifestViaA.statusCode(), text(manifestViaA));

            // B's upstream has neither: wharf must not answer from its cache.
            HttpResponse<byte[]> blobViaB = wharf.get("/v2/b/iso/data" + blobPath);
            assertEquals(404, blobViaB.statusCode(), text(blobViaB));
            assertEquals("BLOB_UNKNOWN", errorCode(blobViaB), text(blobViaB));
            HttpResponse<byte[]> headViaB = wharf.head("/v2/b/iso/data" + blobPath);
            assertEquals(404, headViaB.statusCode(), "HEAD of the blob through b");
            HttpResponse<byte[]> manifestViaB = wharf.get("/v2/b/iso/app" + manifestPath, "Accept", CONTAINERD_ACCEPT);
            assertEquals(404, manifestViaB.statusCode(), text(manifestViaB));
            assertEquals("MANIFEST_UNKNOWN", errorCode(manifestViaB), text(manifestViaB));
            HttpResponse<byte[]> headManifestViaB = wharf.head("/v2/b/iso/app" + manifestPath, "Accept", CONTAINERD_ACCEPT);
            assertEquals(404, headManifestViaB.statusCode(), "HEAD of the manifest through b");

            // Now B gets the same content (same seed, same digests).
            Blob xInB = seeder.pushRandomBlob(b.url(), "iso/data", 256 << 10, 601);
            assertEquals(x.digest(), xInB.digest());
            Image imageInB = seeder.pushOciImage(b.url(), "iso/app", "v1", 16 << 10, 602);
            assertEquals(image.manifestDigest(), imageInB.manifestDigest());
            long blobHeads = b.countRequests("HEAD", "/v2/iso/data" + blobPath);
            long blobGets = b.countRequests("GET", "/v2/iso/data" + blobPath);
            long manifestHeads = b.countRequests("HEAD", "/v2/iso/app" + manifestPath);
            long manifestGets = b.countRequests("GET", "/v2/iso/app" + manifestPath);

            HttpResponse<byte[]> blobNowViaB = wharf.get("/v2/b/iso/data" + blobPath);
            assertEquals(200, blobNowViaB.statusCode(), text(blobNowViaB));
            assertArrayEquals(viaA.body(), blobNowViaB.body());
            assertEquals(blobHeads + 1, b.countRequests("HEAD", "/v2/iso/data" + blobPath), "B confirmed X with a HEAD");
            assertEquals(blobGets, b.countRequests("GET", "/v2/iso/data" + blobPath), "B was not asked for X's bytes");

            HttpResponse<byte[]> manifestNowViaB = wharf.get("/v2/b/iso/app" + manifestPath, "Accept", CONTAINERD_ACCEPT);
            assertEquals(200, manifestNowViaB.statusCode(), text(manifestNowViaB));
            assertArrayEquals(image.manifest(), manifestNowViaB.body());
            assertEquals(ImageSeeder.OCI_MANIFEST, header(manifestNowViaB, "Content-Type"));
            assertEquals(manifestHeads + 1, b.countRequests("HEAD", "/v2/iso/app" + manifestPath),
                    "B confirmed the manifest with a HEAD");
            assertEquals(manifestGets, b.countRequests("GET", "/v2/iso/app" + manifestPath),
                    "B was not asked for the manifest's bytes");
        }
    }

    // ------------------------------------------------------------------------------------------------ g. tag TTL

    @Test
    void aTagIsTrustedForItsTtlThenRevalidatedWithAHead(@TempDir Path tmp) throws Exception {
        String repo = "read/ttl";
        Image first = seeder.pushOciImage(upstream.url(), repo, "v1", 0, 701);
        Image second = seeder.pushOciImage(upstream.url(), repo, "next", 0, 702);
        assertNotEquals(first.manifestDigest(), second.manifestDigest());
        String tagPath = "/v2/" + repo + "/manifests/v1";
        try (InProcessWharf wharf = InProcessWharf.start(tmp,
                WharfYaml.config().project(WharfYaml.project("ttl", upstream.url()).tagTtl("2s")))) {
            String path = "/v2/ttl/" + repo + "/manifests/v1";
            // The tag's fetched-at lies between `started` and `fetched`.
            long started = System.nanoTime();
            assertServes(wharf, path, first);
            long fetched = System.nanoTime();
            assertEquals(1, upstream.countRequests("GET", tagPath), "the first GET goes upstream");
            assertEquals(0, upstream.countRequests("HEAD", tagPath));
            long all = upstream.countRequests("*", "/v2/" + repo + "/");

            assertServes(wharf, path, first);
            assertTrue(System.nanoTime() - started < TimeUnit.MILLISECONDS.toNanos(1800),
                    "the second GET came within the TTL (the test machine is too slow otherwise)");
            assertEquals(all, upstream.countRequests("*", "/v2/" + repo + "/"), "within the TTL: no upstream request");

            sleepUntil(fetched + TimeUnit.MILLISECONDS.toNanos(2300));
            assertServes(wharf, path, first);
            long revalidated = System.nanoTime();
            assertEquals(1, upstream.countRequests("HEAD", tagPath), "past the TTL: one HEAD upstream");
            assertEquals(1, upstream.countRequests("GET", tagPath), "an unchanged digest is not fetched again");

            seeder.tag(upstream.url(), second, "v1");
            sleepUntil(revalidated + TimeUnit.MILLISECONDS.toNanos(2300));
            assertServes(wharf, path, second.withTag("v1"));
            assertEquals(2, upstream.countRequests("HEAD", tagPath), "past the TTL again: one more HEAD");
            assertEquals(2, upstream.countRequests("GET", tagPath), "a changed digest is fetched");
        }
    }

    private static void assertServes(InProcessWharf wharf, String path, Image expected) throws Exception {
        HttpResponse<byte[]> got = wharf.get(path, "Accept", CONTAINERD_ACCEPT);
        assertEquals(200, got.statusCode(), text(got));
        assertEquals(expected.manifestDigest(), header(got, "Docker-Content-Digest"), path);
        assertArrayEquals(expected.manifest(), got.body(), path);
    }

    // ------------------------------------------------------------------------------------------------ h. sharing

    @Test
    void concurrentGetsOfAnUncachedTagShareOneUpstreamGet(@TempDir Path tmp) throws Exception {
        Image image = seeder.pushOciImage(upstream.url(), "read/concurrent", "v1", 0, 801);
        int clients = 16;
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try (InProcessWharf wharf = hub(tmp)) {
            CyclicBarrier barrier = new CyclicBarrier(clients);
            List<Future<HttpResponse<byte[]>>> results = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                results.add(pool.submit(() -> {
                    barrier.await(30, TimeUnit.SECONDS);
                    return wharf.get("/v2/hub/read/concurrent/manifests/v1", "Accept", CONTAINERD_ACCEPT);
                }));
            }
            for (Future<HttpResponse<byte[]>> f : results) {
                HttpResponse<byte[]> got = f.get(60, TimeUnit.SECONDS);
                assertEquals(200, got.statusCode(), text(got));
                assertArrayEquals(image.manifest(), got.body());
            }
            assertEquals(1, upstream.countRequests("GET", "/v2/read/concurrent/manifests/v1"),
                    clients + " concurrent GETs make one upstream GET");
            assertEquals(0, upstream.countRequests("HEAD", "/v2/read/concurrent/manifests/v1"));
        } finally {
            pool.shutdownNow();
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static HttpResponse<byte[]> upstreamGet(String path, String... headers) throws IOException,
            InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(upstream.url() + path)).timeout(Duration.ofSeconds(30));
        for (int i = 0; i + 1 < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        HttpResponse<byte[]> response = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, response.statusCode(), "upstream GET " + path);
        return response;
    }

    private static List<String> tags(JsonNode body) {
        List<String> tags = new ArrayList<>();
        JsonNode array = body.get("tags");
        assertTrue(array != null && array.isArray(), "tags array in " + body);
        array.forEach(t -> tags.add(t.asText()));
        return tags;
    }

    private static String header(HttpResponse<?> response, String name) {
        return response.headers().firstValue(name).orElse(null);
    }

    private static long contentLength(HttpResponse<?> response) {
        return response.headers().firstValueAsLong("Content-Length").orElse(-1);
    }

    private static String errorCode(HttpResponse<byte[]> response) throws IOException {
        JsonNode errors = JSON.readTree(response.body()).get("errors");
        assertTrue(errors != null && errors.isArray() && errors.size() > 0, "OCI error body: " + text(response));
        return errors.get(0).get("code").asText();
    }

    private static String text(HttpResponse<byte[]> response) {
        byte[] body = response.body();
        String s = body == null ? "" : new String(body, StandardCharsets.UTF_8);
        return "HTTP " + response.statusCode() + " " + (s.length() > 500 ? s.substring(0, 500) + "..." : s);
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long wait = nanoTime - System.nanoTime();
        if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
        }
    }
}
