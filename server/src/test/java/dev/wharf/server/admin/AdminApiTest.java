package dev.wharf.server.admin;

import static dev.wharf.server.admin.AdminTesting.blobFile;
import static dev.wharf.server.admin.AdminTesting.imageBytes;
import static dev.wharf.server.admin.AdminTesting.json;
import static dev.wharf.server.admin.AdminTesting.linked;
import static dev.wharf.server.admin.AdminTesting.send;
import static dev.wharf.server.admin.AdminTesting.storedBytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.ImageSeeder.Index;
import dev.wharf.testing.ImageSeeder.Platform;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfYaml;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API against an in-process wharf in front of a real registry: the token guard, the project, repository
 * and tag listings (sizes checked against the bytes on disk and against what was pushed), deleting a tag or a
 * repository (gone on disk and from the manifest handler's memory, so the next pull asks the upstream again), and
 * prefetch jobs (every platform, or chosen ones, polled by id).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class AdminApiTest {
    static final String TOKEN = "test-admin-token-5f1d9c2a7e";
    static final String BEARER = "Bearer " + TOKEN;

    private static DistributionRegistry upstream;
    private static ImageSeeder seeder;
    private static Image small;
    private static Image other;
    private static Index multi;
    private static Index multiForArm;

    @BeforeAll
    static void seed(DistributionRegistry r, ImageSeeder s) {
        upstream = r;
        seeder = s;
        small = seeder.pushOciImage(upstream.url(), "library/admin-small", "v1", 64 << 10, 201);
        seeder.tag(upstream.url(), small, "v2");
        other = seeder.pushDockerImage(upstream.url(), "library/admin-other", "v1", 32 << 10, 202);
        multi = seeder.pushIndex(upstream.url(), "library/admin-multi", "v1",
                List.of(Platform.LINUX_AMD64, Platform.LINUX_ARM64), 203);
        multiForArm = seeder.pushIndex(upstream.url(), "library/admin-multi-arm", "v1",
                List.of(Platform.LINUX_AMD64, Platform.LINUX_ARM64), 204);
    }

    static InProcessWharf startWharf(Path storage, String token) throws Exception {
        return InProcessWharf.start(storage, WharfYaml.config().adminToken(token)
                .project(WharfYaml.project("hub", upstream.url()).aliases("docker.io")));
    }

    // ------------------------------------------------------------------------------------------------ the token

    @Test
    void everyAdminRequestWithoutTheRightTokenGets401(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        try (InProcessWharf wharf = startWharf(storage, TOKEN)) {
            AdminTesting.pull(wharf.url(), "/v2/hub/", small);
            Path tagFile = storage.resolve("projects/hub/repos/library/admin-small/_tags/v1");
            assertTrue(Files.isRegularFile(tagFile));
            long upstreamRequests = upstream.requests().size();

            List<String> wrong = new ArrayList<>();
            wrong.add(null);
            wrong.add("Bearer " + TOKEN.substring(0, TOKEN.length() - 1) + "x");
            wrong.add("Bearer " + TOKEN + "x");
            wrong.add("Bearer ");
            wrong.add(TOKEN);
            wrong.add("Basic " + Base64.getEncoder().encodeToString(("admin:" + TOKEN).getBytes(StandardCharsets.UTF_8)));
            String[][] requests = {
                {"GET", "/api/v1"}, {"GET", "/api/v1/projects"}, {"GET", "/api/v1/projects/hub/repositories"},
                {"GET", "/api/v1/no-such-endpoint"}, {"GET", "/api/v1/prefetch/0123"},
                {"GET", "/api/v1/projects/hub?token=" + TOKEN},
                {"DELETE", "/api/v1/projects/hub/repositories/library/admin-small/-/tags/v1"},
                {"DELETE", "/api/v1/projects/hub/repositories/library/admin-small"},
                {"POST", "/api/v1/prefetch"},
            };
            for (String authorization : wrong) {
                for (String[] r : requests) {
                    String body = r[0].equals("POST") ? "{\"images\":[\"docker.io/library/admin-other:v1\"]}" : null;
                    HttpResponse<String> response = send(wharf.url(), r[0], r[1], authorization, body);
                    String what = r[0] + " " + r[1] + " with Authorization " + authorization;
                    assertEquals(401, response.statusCode(), what + ": " + response.body());
                    assertEquals("Bearer realm=\"wharf-admin\"",
                            response.headers().firstValue("WWW-Authenticate").orElse(null), what);
                    assertEquals("UNAUTHORIZED", json(response).path("errors").path(0).path("code").asText(), what);
                }
            }
            assertTrue(Files.isRegularFile(tagFile), "the refused deletes deleted nothing");
            Thread.sleep(500); // a job started by mistake would have asked the upstream by now
            assertEquals(upstreamRequests, upstream.requests().size(), "the refused prefetch pulled nothing");

            HttpResponse<String> ok = send(wharf.url(), "GET", "/api/v1/projects", BEARER, null);
            assertEquals(200, ok.statusCode(), ok.body());
            assertEquals("application/json; charset=utf-8", ok.headers().firstValue("Content-Type").orElse(null));
            assertEquals(200, send(wharf.url(), "GET", "/api/v1/projects", "bearer " + TOKEN, null).statusCode(),
                    "the scheme is case-insensitive");
        }
    }

    @Test
    void withoutAConfiguredTokenTheAdminApiRefusesEveryone(@TempDir Path tmp) throws Exception {
        try (InProcessWharf wharf = startWharf(tmp.resolve("storage"), null)) {
            for (String authorization : new String[] {null, BEARER, "Bearer ", "Bearer null"}) {
                HttpResponse<String> r = send(wharf.url(), "GET", "/api/v1/projects", authorization, null);
                assertEquals(401, r.statusCode(), r.body());
                assertTrue(r.body().contains("no admin.token is configured"), r.body());
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ listings

    @Test
    void listsProjectsRepositoriesAndTagsWithTheBytesOnDisk(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        try (InProcessWharf wharf = startWharf(storage, TOKEN)) {
            AdminTesting.pull(wharf.url(), "/v2/hub/", small);
            AdminTesting.pull(wharf.url(), "/v2/hub/", small.withTag("v2"));
            // The index and its amd64 image only: the tag is cached but not complete.
            Image amd64 = multi.image(Platform.LINUX_AMD64);
            AdminTesting.get(wharf.url(), "/v2/hub/" + multi.reference().replace(":", "/manifests/"),
                    AdminTesting.ALL_MANIFESTS);
            AdminTesting.get(wharf.url(), "/v2/hub/" + multi.repo() + "/manifests/" + amd64.manifestDigest(),
                    AdminTesting.ALL_MANIFESTS);
            AdminTesting.pullBlobs(wharf.url(), "/v2/hub/", amd64);
            List<String> pulled = new ArrayList<>(AdminTesting.digestsOf(small));
            pulled.add(multi.manifestDigest());
            pulled.addAll(AdminTesting.digestsOf(amd64));
            AdminTesting.awaitLinked(storage, "hub", pulled);

            long smallBytes = imageBytes(small);
            long multiBytes = multi.manifest().length + imageBytes(amd64);
            JsonNode projects = json(ok(send(wharf.url(), "GET", "/api/v1/projects", BEARER, null)));
            JsonNode hub = projects.path("projects").path(0);
            assertEquals("hub", hub.path("name").asText(), projects.toString());
            assertTrue(hub.path("configured").asBoolean());
            assertEquals(upstream.url().toString(), hub.path("upstream").asText());
            assertEquals(2, hub.path("repositories").asInt());
            assertEquals(3, hub.path("tags").asInt());
            assertEquals(smallBytes + multiBytes, hub.path("bytes").asLong(), "what was pulled, byte for byte");
            assertEquals(storedBytes(storage, linked(storage, "hub")), hub.path("bytes").asLong(),
                    "the bytes of the blob files hub links");
            assertEquals(linked(storage, "hub").size(), hub.path("blobs").asInt());
            assertEquals(0, hub.path("missingBlobs").asInt());
            long[] all = AdminTesting.allBlobFiles(storage);
            assertEquals(all[0], projects.path("storage").path("blobs").asLong());
            assertEquals(all[1], projects.path("storage").path("bytes").asLong());

            JsonNode repos = json(ok(send(wharf.url(), "GET", "/api/v1/projects/hub/repositories", BEARER, null)));
            assertEquals("library/admin-multi", repos.path("repositories").path(0).path("name").asText());
            assertEquals(multiBytes, repos.path("repositories").path(0).path("bytes").asLong());
            assertFalse(repos.path("repositories").path(0).path("complete").asBoolean(), "arm64 was not pulled");
            assertEquals("library/admin-small", repos.path("repositories").path(1).path("name").asText());
            assertEquals(smallBytes, repos.path("repositories").path(1).path("bytes").asLong(),
                    "two tags of one manifest count its bytes once");
            assertEquals(2, repos.path("repositories").path(1).path("tags").asInt());
            assertTrue(repos.path("repositories").path(1).path("complete").asBoolean());

            JsonNode repo = json(ok(send(wharf.url(), "GET",
                    "/api/v1/projects/hub/repositories/library/admin-small", BEARER, null)));
            assertEquals(List.of("v1", "v2"), List.of(repo.path("tags").path(0).path("name").asText(),
                    repo.path("tags").path(1).path("name").asText()));
            for (JsonNode tag : repo.path("tags")) {
                assertEquals(small.manifestDigest(), tag.path("digest").asText());
                assertEquals(ImageSeeder.OCI_MANIFEST, tag.path("mediaType").asText());
                assertEquals(smallBytes, tag.path("bytes").asLong());
                assertEquals(1 + small.blobDigests().size(), tag.path("blobs").asInt());
                assertNotNull(java.time.Instant.parse(tag.path("fetchedAt").asText()));
            }
            JsonNode tag = json(ok(send(wharf.url(), "GET",
                    "/api/v1/projects/hub/repositories/library/admin-multi/-/tags/v1", BEARER, null)));
            assertEquals("hub", tag.path("project").asText());
            assertEquals("library/admin-multi", tag.path("repository").asText());
            assertEquals(multi.manifestDigest(), tag.path("digest").asText());
            assertEquals(multiBytes, tag.path("bytes").asLong());
            assertFalse(tag.path("complete").asBoolean());

            assertStatus(404, send(wharf.url(), "GET", "/api/v1/projects/nope", BEARER, null), "NAME_UNKNOWN");
            assertStatus(404, send(wharf.url(), "GET", "/api/v1/projects/hub/repositories/library/nope", BEARER, null),
                    "NAME_UNKNOWN");
            assertStatus(404, send(wharf.url(), "GET",
                    "/api/v1/projects/hub/repositories/library/admin-small/-/tags/v9", BEARER, null),
                    "MANIFEST_UNKNOWN");
            assertStatus(400, send(wharf.url(), "GET", "/api/v1/projects/hub/repositories/Library/X", BEARER, null),
                    "NAME_INVALID");
            assertStatus(405, send(wharf.url(), "POST", "/api/v1/projects", BEARER, "{}"), "UNSUPPORTED");
            assertStatus(404, send(wharf.url(), "GET", "/api/v1/nothing", BEARER, null), "UNSUPPORTED");
        }
    }

    // ------------------------------------------------------------------------------------------------ deleting

    @Test
    void deletingATagOrARepositoryDropsItOnDiskAndInMemory(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        try (InProcessWharf wharf = startWharf(storage, TOKEN)) {
            AdminTesting.pull(wharf.url(), "/v2/hub/", small);
            AdminTesting.pull(wharf.url(), "/v2/hub/", small.withTag("v2"));
            AdminTesting.pull(wharf.url(), "/v2/hub/", other);
            AdminTesting.awaitLinked(storage, "hub", AdminTesting.digestsOf(small));
            String v1 = "/v2/library/admin-small/manifests/v1";
            String v2 = "/v2/library/admin-small/manifests/v2";
            long v1Gets = upstream.countRequests("GET", v1);
            long v2Gets = upstream.countRequests("GET", v2);
            AdminTesting.get(wharf.url(), "/v2/hub/library/admin-small/manifests/v1", AdminTesting.ALL_MANIFESTS);
            assertEquals(v1Gets, upstream.countRequests("GET", v1), "before the delete, the tag is served from cache");

            String tagPath = "/api/v1/projects/hub/repositories/library/admin-small/-/tags/v1";
            JsonNode deleted = json(ok(send(wharf.url(), "DELETE", tagPath, BEARER, null)));
            assertTrue(deleted.path("deleted").asBoolean(), deleted.toString());
            assertFalse(Files.exists(storage.resolve("projects/hub/repos/library/admin-small/_tags/v1")));
            assertStatus(404, send(wharf.url(), "GET", tagPath, BEARER, null), "MANIFEST_UNKNOWN");
            JsonNode repo = json(ok(send(wharf.url(), "GET", "/api/v1/projects/hub/repositories/library/admin-small",
                    BEARER, null)));
            assertEquals(1, repo.path("tags").size());
            assertEquals("v2", repo.path("tags").path(0).path("name").asText());
            for (String blob : small.blobDigests()) {
                assertTrue(Files.isRegularFile(blobFile(storage, blob)), "content stays: " + blob);
            }

            byte[] again = AdminTesting.get(wharf.url(), "/v2/hub/library/admin-small/manifests/v1",
                    AdminTesting.ALL_MANIFESTS);
            assertEquals(small.manifestDigest(), ImageSeeder.sha256(again));
            assertEquals(v1Gets + 1, upstream.countRequests("GET", v1),
                    "the deleted tag is asked of the upstream again, not answered from memory");
            ok(send(wharf.url(), "DELETE", tagPath, BEARER, null));
            assertStatus(404, send(wharf.url(), "DELETE", tagPath, BEARER, null), "MANIFEST_UNKNOWN");

            String repoPath = "/api/v1/projects/hub/repositories/library/admin-small";
            JsonNode repoDeleted = json(ok(send(wharf.url(), "DELETE", repoPath, BEARER, null)));
            assertEquals(1, repoDeleted.path("deletedTags").asInt(), repoDeleted.toString());
            assertStatus(404, send(wharf.url(), "GET", repoPath, BEARER, null), "NAME_UNKNOWN");
            assertStatus(404, send(wharf.url(), "DELETE", repoPath, BEARER, null), "NAME_UNKNOWN");
            JsonNode repos = json(ok(send(wharf.url(), "GET", "/api/v1/projects/hub/repositories", BEARER, null)));
            assertEquals(1, repos.path("repositories").size(), repos.toString());
            assertEquals("library/admin-other", repos.path("repositories").path(0).path("name").asText());

            AdminTesting.get(wharf.url(), "/v2/hub/library/admin-small/manifests/v2", AdminTesting.ALL_MANIFESTS);
            assertEquals(v2Gets + 1, upstream.countRequests("GET", v2), "v2 went with its repository");
        }
    }

    // ------------------------------------------------------------------------------------------------ prefetch

    @Test
    void aPrefetchJobPullsEveryPlatformAndIsPolledById(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        try (InProcessWharf wharf = startWharf(storage, TOKEN)) {
            HttpResponse<String> accepted = send(wharf.url(), "POST", "/api/v1/prefetch", BEARER,
                    "{\"images\": [\"docker.io/library/admin-multi:v1\", \"hub/library/admin-other:v1\"]}");
            assertEquals(202, accepted.statusCode(), accepted.body());
            String id = json(accepted).path("id").asText();
            assertFalse(id.isEmpty());
            assertEquals("/api/v1/prefetch/" + id, accepted.headers().firstValue("Location").orElse(null));

            JsonNode job = awaitJob(wharf.url(), id);
            assertEquals("succeeded", job.path("state").asText(), job.toString());
            assertNotNull(java.time.Instant.parse(job.path("finishedAt").asText()));
            JsonNode multiImage = job.path("images").path(0);
            assertEquals("docker.io/library/admin-multi:v1", multiImage.path("reference").asText());
            assertEquals("done", multiImage.path("state").asText());
            assertEquals(multi.manifestDigest(), multiImage.path("digest").asText());
            assertEquals(2, multiImage.path("manifests").asInt());
            long multiBlobBytes = multi.images().stream().mapToLong(Image::totalBlobBytes).sum();
            long multiLayers = multi.images().stream().mapToLong(i -> i.layerDigests().size()).sum();
            assertEquals(multiBlobBytes, multiImage.path("bytesTotal").asLong());
            assertEquals(multiBlobBytes, multiImage.path("bytesDone").asLong());
            assertEquals(multiLayers, multiImage.path("layersTotal").asLong());
            assertEquals(multiLayers, multiImage.path("layersDone").asLong());
            assertEquals("done", job.path("images").path(1).path("state").asText());
            assertEquals(other.totalBlobBytes(), job.path("images").path(1).path("bytesDone").asLong());

            Set<String> expected = new HashSet<>();
            expected.add(multi.manifestDigest());
            for (Image i : multi.images()) {
                expected.add(i.manifestDigest());
                expected.addAll(i.blobDigests());
            }
            expected.add(other.manifestDigest());
            expected.addAll(other.blobDigests());
            AdminTesting.awaitLinked(storage, "hub", expected);
            for (String d : expected) {
                assertTrue(Files.isRegularFile(blobFile(storage, d)), "stored: " + d);
            }
            assertEquals(expected, linked(storage, "hub"), "everything went to project hub (ns=docker.io and /hub/)");
            for (String blob : multi.image(Platform.LINUX_ARM64).blobDigests()) {
                assertEquals(1, upstream.countRequests("GET", "/v2/library/admin-multi/blobs/" + blob),
                        "wharf fetched arm64 blob " + blob + " once");
            }
            JsonNode tags = json(ok(send(wharf.url(), "GET",
                    "/api/v1/projects/hub/repositories/library/admin-multi/-/tags/v1", BEARER, null)));
            assertTrue(tags.path("complete").asBoolean(), "every platform is cached: " + tags);

            JsonNode list = json(ok(send(wharf.url(), "GET", "/api/v1/prefetch", BEARER, null)));
            assertTrue(list.path("jobs").toString().contains(id), list.toString());
        }
    }

    @Test
    void aPrefetchJobForChosenPlatformsPullsOnlyThose(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        try (InProcessWharf wharf = startWharf(storage, TOKEN)) {
            HttpResponse<String> accepted = send(wharf.url(), "POST", "/api/v1/prefetch", BEARER,
                    "{\"images\": [\"docker.io/library/admin-multi-arm:v1\"], \"platforms\": [\"linux/arm64\"]}");
            assertEquals(202, accepted.statusCode(), accepted.body());
            JsonNode job = awaitJob(wharf.url(), json(accepted).path("id").asText());
            assertEquals("succeeded", job.path("state").asText(), job.toString());
            assertEquals("linux/arm64", job.path("platforms").path(0).asText());
            assertEquals(1, job.path("images").path(0).path("manifests").asInt());
            Image arm = multiForArm.image(Platform.LINUX_ARM64);
            Image amd = multiForArm.image(Platform.LINUX_AMD64);
            AdminTesting.awaitLinked(storage, "hub", AdminTesting.digestsOf(arm));
            assertEquals(arm.totalBlobBytes(), job.path("images").path(0).path("bytesDone").asLong());
            for (String blob : arm.blobDigests()) {
                assertTrue(Files.isRegularFile(blobFile(storage, blob)), "arm64 blob stored: " + blob);
            }
            assertFalse(Files.exists(blobFile(storage, amd.manifestDigest())));
            for (String blob : amd.blobDigests()) {
                assertFalse(Files.exists(blobFile(storage, blob)), "amd64 blob not stored: " + blob);
                assertEquals(0, upstream.countRequests("GET", blob), "amd64 blob never fetched: " + blob);
            }
        }
    }

    @Test
    void aPrefetchJobReportsWhatFailedAndBadRequestsAreRefused(@TempDir Path tmp) throws Exception {
        try (InProcessWharf wharf = startWharf(tmp.resolve("storage"), TOKEN)) {
            HttpResponse<String> accepted = send(wharf.url(), "POST", "/api/v1/prefetch", BEARER,
                    "{\"images\": [\"docker.io/library/does-not-exist:v1\", \"docker.io/library/admin-other:v1\"]}");
            assertEquals(202, accepted.statusCode(), accepted.body());
            JsonNode job = awaitJob(wharf.url(), json(accepted).path("id").asText());
            assertEquals("failed", job.path("state").asText(), job.toString());
            JsonNode missing = job.path("images").path(0);
            assertEquals("failed", missing.path("state").asText());
            assertTrue(missing.path("error").asText().contains("MANIFEST_UNKNOWN"), missing.toString());
            assertEquals("done", job.path("images").path(1).path("state").asText(), "the other image still came");
            assertEquals(1, job.path("summary").path("failed").asInt());
            assertEquals(1, job.path("summary").path("done").asInt());

            assertStatus(400, send(wharf.url(), "POST", "/api/v1/prefetch", BEARER, "{not json"), "UNSUPPORTED");
            assertStatus(400, send(wharf.url(), "POST", "/api/v1/prefetch", BEARER, "{\"images\": []}"),
                    "UNSUPPORTED");
            assertStatus(400, send(wharf.url(), "POST", "/api/v1/prefetch", BEARER, "{\"images\": [\"Up/Per:1\"]}"),
                    "NAME_INVALID");
            assertStatus(400, send(wharf.url(), "POST", "/api/v1/prefetch", BEARER,
                    "{\"images\": [\"a/b:1\"], \"platforms\": [\"linux\"]}"), "UNSUPPORTED");
            assertStatus(404, send(wharf.url(), "GET", "/api/v1/prefetch/feedface", BEARER, null), "NAME_UNKNOWN");
            assertStatus(405, send(wharf.url(), "PUT", "/api/v1/prefetch", BEARER, "{}"), "UNSUPPORTED");
            StringBuilder huge = new StringBuilder("{\"images\": [");
            while (huge.length() < AdminApi.MAX_BODY + 10) {
                huge.append("\"docker.io/library/admin-other:v1\",");
            }
            huge.append("\"x/y:1\"]}");
            assertStatus(413, send(wharf.url(), "POST", "/api/v1/prefetch", BEARER, huge.toString()), "UNSUPPORTED");
            ok(send(wharf.url(), "GET", "/api/v1/projects", BEARER, null));
        }
    }

    @Test
    void aBodyThatArrivesAfterItsHeadersIsReadWholeAndExpectContinueIsAnswered(@TempDir Path tmp) throws Exception {
        try (InProcessWharf wharf = startWharf(tmp.resolve("storage"), TOKEN)) {
            byte[] body = "{\"images\": [\"docker.io/library/admin-other:v1\"]}".getBytes(StandardCharsets.UTF_8);
            try (Socket s = new Socket("127.0.0.1", wharf.url().getPort())) {
                s.setSoTimeout(30_000);
                OutputStream out = s.getOutputStream();
                InputStream in = s.getInputStream();
                out.write(("POST /api/v1/prefetch HTTP/1.1\r\nHost: " + wharf.hostPort() + "\r\nAuthorization: "
                        + BEARER + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                        + "\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String interim = readHead(in);
                assertTrue(interim.startsWith("HTTP/1.1 100 Continue"), interim);
                out.write(body, 0, 10);
                out.flush();
                Thread.sleep(300);
                out.write(body, 10, body.length - 10);
                out.flush();
                String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(response.startsWith("HTTP/1.1 202 Accepted"), response);
                String id = AdminTesting.JSON.readTree(response.substring(response.indexOf("\r\n\r\n") + 4))
                        .path("id").asText();
                assertEquals("succeeded", awaitJob(wharf.url(), id).path("state").asText());
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** Polls a prefetch job until it finishes, at most 60 s. */
    static JsonNode awaitJob(URI wharf, String id) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        JsonNode job = null;
        while (System.nanoTime() < deadline) {
            job = json(ok(send(wharf, "GET", "/api/v1/prefetch/" + id, BEARER, null)));
            String state = job.path("state").asText();
            if (state.equals("succeeded") || state.equals("failed")) {
                return job;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("prefetch job " + id + " did not finish within 60 s: " + job);
    }

    static HttpResponse<String> ok(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.uri() + ": " + r.body());
        return r;
    }

    static void assertStatus(int status, HttpResponse<String> r, String code) {
        assertEquals(status, r.statusCode(), r.request().method() + " " + r.uri() + ": " + r.body());
        assertEquals(code, json(r).path("errors").path(0).path("code").asText(), r.body());
    }

    private static String readHead(InputStream in) throws java.io.IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.append((char) b);
        }
        return head.toString();
    }
}
