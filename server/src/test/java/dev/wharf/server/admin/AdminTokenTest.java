package dev.wharf.server.admin;

import static dev.wharf.server.admin.AdminTesting.json;
import static dev.wharf.server.admin.AdminTesting.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.WharfProcess;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Acceptance, admin token: against wharf as users run it (a child JVM, {@code serve --config}), a request without
 * the token, or with a wrong one, gets 401; with it, 200; and the token appears nowhere in wharf's output (start-up
 * lines, access log, warnings about wrong tokens, prefetch job lines), though those requests were all logged.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
class AdminTokenTest {
    private static final String TOKEN = "s3cr3t-admin-token-Zq81vLx0";
    /** A near miss: what someone guessing would send. Must not be echoed either. */
    private static final String WRONG = "s3cr3t-admin-token-Zq81vLx1";

    @Test
    void withoutTheTokenA401AndTheTokenNeverInTheLog(DistributionRegistry upstream, ImageSeeder seeder) throws Exception {
        seeder.pushOciImage(upstream.url(), "library/token-img", "v1", 16 << 10, 401);
        try (WharfProcess wharf = WharfProcess.builder()
                .project(WharfProcess.Project.of("hub", upstream.url()).withAliases("docker.io"))
                .extraYaml("admin:\n  token: " + TOKEN + "\n")
                .start()) {
            HttpResponse<String> none = send(wharf.url(), "GET", "/api/v1/projects", null, null);
            assertEquals(401, none.statusCode(), none.body());
            HttpResponse<String> wrong = send(wharf.url(), "GET", "/api/v1/projects", "Bearer " + WRONG, null);
            assertEquals(401, wrong.statusCode(), wrong.body());
            HttpResponse<String> sneaky = send(wharf.url(), "GET", "/api/v1/projects?token=" + TOKEN, null, null);
            assertEquals(401, sneaky.statusCode(), "a token in the query string does not count");

            HttpResponse<String> ok = send(wharf.url(), "GET", "/api/v1/projects", "Bearer " + TOKEN, null);
            assertEquals(200, ok.statusCode(), ok.body());
            assertEquals("hub", json(ok).path("projects").path(0).path("name").asText());
            HttpResponse<String> job = send(wharf.url(), "POST", "/api/v1/prefetch", "Bearer " + TOKEN,
                    "{\"images\": [\"docker.io/library/token-img:v1\"]}");
            assertEquals(202, job.statusCode(), job.body());
            String id = json(job).path("id").asText();
            String state = "";
            for (int i = 0; i < 300 && !state.equals("succeeded") && !state.equals("failed"); i++) {
                Thread.sleep(100);
                state = json(send(wharf.url(), "GET", "/api/v1/prefetch/" + id, "Bearer " + TOKEN, null))
                        .path("state").asText();
            }
            assertEquals("succeeded", state);
            HttpResponse<String> deleted = send(wharf.url(), "DELETE",
                    "/api/v1/projects/hub/repositories/library/token-img/-/tags/v1", "Bearer " + TOKEN, null);
            assertEquals(200, deleted.statusCode(), deleted.body());

            assertEquals(0, wharf.stop(), "wharf drains and exits 0, so its output is complete");
            String log = wharf.log();
            assertTrue(log.contains("/api/v1/projects"), "the admin requests were logged:\n" + log);
            assertTrue(log.contains("refused: wrong token"), "the wrong token was noticed:\n" + log);
            assertTrue(log.contains("prefetch job " + id), "the job was logged:\n" + log);
            assertFalse(log.contains(TOKEN), "the token is in wharf's output:\n" + log);
            assertFalse(log.contains(WRONG), "the wrong token is in wharf's output:\n" + log);
            assertFalse(log.contains(TOKEN.substring(0, 12)), "part of the token is in wharf's output:\n" + log);
        }
    }
}
