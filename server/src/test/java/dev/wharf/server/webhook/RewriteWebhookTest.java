package dev.wharf.server.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.flipkart.zjsonpatch.JsonPatch;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.server.config.RewriteConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The webhook's answers at the unit level, from AdmissionReview fixtures under {@code admission/}: each patch is
 * applied with a real JSONPatch implementation (zjsonpatch) and the resulting Pod is checked image by image.
 */
class RewriteWebhookTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String D1 = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static final String D2 = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    private static final String RULES = """
            projects:
              - name: hub
                upstream: https://registry-1.docker.io
            rewrite:
              rules:
                - name: docker-hub
                  matches: ['^docker.io/']
                  excludes: ['^docker.io/(library/)?ubuntu:.*$']
                  replace: 'wharf.example.com/docker.io'
                - name: quay
                  matches: ['^quay\\.io/']
                  replace: 'wharf.example.com/quay.io'
                - name: everything-else-checked
                  matches: ['^ghcr\\.io/']
                  replace: 'wharf.example.com/ghcr.io'
                  checkUpstream: true
            """;

    /** Answers checkUpstream from a set of resolvable paths, and records what it was asked. */
    private static final class FakeCheck implements ManifestCheck {
        final Set<String> resolvable;
        final List<String> asked = Collections.synchronizedList(new ArrayList<>());

        FakeCheck(String... resolvable) {
            this.resolvable = Set.of(resolvable);
        }

        @Override
        public CompletableFuture<Boolean> resolves(String path, String reference) {
            asked.add(path + "@" + reference);
            // Answer from another thread, as the real check does.
            return CompletableFuture.supplyAsync(() -> resolvable.contains(path + "@" + reference));
        }
    }

    private static List<RewriteConfig.Rule> rules(String yaml) {
        return ConfigLoader.parse(yaml, "test.yaml").rewrite().rules();
    }

    private static RewriteWebhook webhook(ManifestCheck check) {
        return new RewriteWebhook(new ImageRewriter(rules(RULES), check));
    }

    private static byte[] fixture(String name) throws IOException {
        try (InputStream in = RewriteWebhookTest.class.getResourceAsStream("/admission/" + name)) {
            if (in == null) {
                throw new IllegalStateException("missing fixture admission/" + name);
            }
            return in.readAllBytes();
        }
    }

    private static JsonNode answer(RewriteWebhook webhook, byte[] review) throws Exception {
        return JSON.readTree(webhook.review(review).get(5, TimeUnit.SECONDS));
    }

    /** The Pod after the answer's patch, or the Pod as it was when there is none. */
    private static JsonNode patchedPod(byte[] review, JsonNode answer) throws IOException {
        JsonNode pod = JSON.readTree(review).get("request").get("object");
        JsonNode response = answer.get("response");
        if (!response.has("patch")) {
            return pod;
        }
        assertEquals("JSONPatch", response.get("patchType").asText());
        JsonNode patch = JSON.readTree(Base64.getDecoder().decode(response.get("patch").asText()));
        for (JsonNode op : patch) {
            assertEquals("replace", op.get("op").asText(), "only replace ops: " + patch);
            assertTrue(op.get("path").asText().matches("/spec/(containers|initContainers|ephemeralContainers)/\\d+/image"),
                    op.toString());
        }
        return JsonPatch.apply(patch, pod);
    }

    private static Map<String, String> images(JsonNode pod) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String list : PodPatch.CONTAINER_LISTS) {
            for (JsonNode c : pod.path("spec").path(list)) {
                out.put(c.get("name").asText(), c.get("image").asText());
            }
        }
        return out;
    }

    @Test
    void rewritesMatchingImagesInEveryContainerList() throws Exception {
        FakeCheck check = new FakeCheck(); // ghcr.io does not resolve: that image stays
        byte[] review = fixture("pod-mixed.json");
        JsonNode answer = answer(webhook(check), review);
        assertEquals("admission.k8s.io/v1", answer.get("apiVersion").asText());
        assertEquals("AdmissionReview", answer.get("kind").asText());
        assertEquals("705ab4f5-6393-11e8-b7cc-42010a800002", answer.get("response").get("uid").asText());
        assertTrue(answer.get("response").get("allowed").asBoolean());

        JsonNode pod = patchedPod(review, answer);
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("migrate", "wharf.example.com/docker.io/library/busybox:latest");
        expected.put("nginx", "wharf.example.com/docker.io/library/nginx:1.27");
        expected.put("app", "wharf.example.com/docker.io/user/app:latest");
        expected.put("pinned", "wharf.example.com/docker.io/library/nginx@" + D1);
        expected.put("both", "wharf.example.com/docker.io/library/redis:7.4@" + D2);
        expected.put("quay", "wharf.example.com/quay.io/prometheus/node-exporter:latest");
        expected.put("ghcr", "ghcr.io/acme/tool:2.0");
        expected.put("ubuntu", "ubuntu:24.04");
        expected.put("nginx-again", "wharf.example.com/docker.io/library/nginx:1.27");
        expected.put("local", "registry.internal:5000/team/svc:3");
        expected.put("debugger", "wharf.example.com/docker.io/library/debian:12");
        assertEquals(expected, images(pod));
        assertEquals(List.of("ghcr.io/acme/tool@2.0"), check.asked);

        // Everything but the images is as it was.
        JsonNode before = JSON.readTree(review).get("request").get("object");
        assertEquals(before.get("metadata"), pod.get("metadata"));
        assertEquals(before.path("spec").path("containers").get(0).get("ports"),
                pod.path("spec").path("containers").get(0).get("ports"));
        JsonNode patch = JSON.readTree(Base64.getDecoder().decode(answer.get("response").get("patch").asText()));
        assertEquals(8, patch.size(), "one op per changed image, none for the others: " + patch);
    }

    @Test
    void checkUpstreamRewritesWhatWharfResolves() throws Exception {
        FakeCheck check = new FakeCheck("ghcr.io/acme/tool@2.0");
        byte[] review = fixture("pod-mixed.json");
        JsonNode pod = patchedPod(review, answer(webhook(check), review));
        assertEquals("wharf.example.com/ghcr.io/acme/tool:2.0", images(pod).get("ghcr"));
    }

    @Test
    void aFailedCheckFallsThroughToTheNextRule() throws Exception {
        List<RewriteConfig.Rule> rules = rules("""
                rewrite:
                  rules:
                    - name: checked
                      matches: ['^docker.io/']
                      replace: 'wharf.example.com/checked'
                      checkUpstream: true
                    - name: fallback
                      matches: ['nginx']
                      replace: 'fallback.example.com'
                """);
        FakeCheck check = new FakeCheck("checked/library/redis@" + D1);
        ImageRewriter rewriter = new ImageRewriter(rules, check);
        assertEquals("fallback.example.com/library/nginx:1.27", rewriter.rewrite("nginx:1.27").get());
        assertEquals("wharf.example.com/checked/library/redis@" + D1, rewriter.rewrite("redis@" + D1).get());
        assertEquals("busybox", rewriter.rewrite("busybox").get(), "failed its check and no other rule matches");
        assertEquals(List.of("checked/library/nginx@1.27", "checked/library/redis@" + D1,
                "checked/library/busybox@latest"), check.asked);
    }

    @Test
    void firstMatchingRuleWins() throws Exception {
        ImageRewriter rewriter = new ImageRewriter(rules("""
                rewrite:
                  rules:
                    - {name: first, matches: ['nginx'], replace: 'one.example.com'}
                    - {name: second, matches: ['^docker.io/'], replace: 'two.example.com'}
                """), new FakeCheck());
        assertEquals("one.example.com/library/nginx:latest", rewriter.rewrite("nginx").get());
        assertEquals("two.example.com/library/redis:latest", rewriter.rewrite("redis").get());
        assertEquals("quay.io/a/b", rewriter.rewrite("quay.io/a/b").get());
        assertEquals("not a reference", rewriter.rewrite("not a reference").get());
    }

    @Test
    void noMatchingImageMeansNoPatch() throws Exception {
        byte[] review = fixture("pod-no-match.json");
        JsonNode answer = answer(webhook(new FakeCheck()), review);
        JsonNode response = answer.get("response");
        assertEquals("b8a2f2a4-0000-4c8e-9a55-000000000001", response.get("uid").asText());
        assertTrue(response.get("allowed").asBoolean());
        assertNull(response.get("patch"));
        assertNull(response.get("patchType"));
    }

    @Test
    void ephemeralContainersOfAnUpdateArePatched() throws Exception {
        byte[] review = fixture("pod-ephemeral-update.json");
        JsonNode answer = answer(webhook(new FakeCheck()), review);
        JsonNode pod = patchedPod(review, answer);
        assertEquals("ghcr.io/acme/debug:1", images(pod).get("debugger-1"));
        assertEquals("wharf.example.com/docker.io/library/busybox:1.36", images(pod).get("debugger-2"));
        assertEquals("wharf.example.com/docker.io/library/nginx:1.27", images(pod).get("nginx"),
                "an image already on wharf matches no rule");
        JsonNode patch = JSON.readTree(Base64.getDecoder().decode(answer.get("response").get("patch").asText()));
        assertEquals("[{\"op\":\"replace\",\"path\":\"/spec/ephemeralContainers/1/image\","
                + "\"value\":\"wharf.example.com/docker.io/library/busybox:1.36\"}]", patch.toString());
    }

    @Test
    void aDeleteIsAllowedUnchanged() throws Exception {
        JsonNode response = answer(webhook(new FakeCheck()), fixture("pod-delete.json")).get("response");
        assertEquals("e1e1e1e1-0000-0000-0000-000000000000", response.get("uid").asText());
        assertTrue(response.get("allowed").asBoolean());
        assertFalse(response.has("patch"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", "not json", "{", "[]", "42", "null", "\"AdmissionReview\"",
        "{}",
        "{\"kind\":\"AdmissionReview\"}",
        "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1beta1\",\"request\":{\"uid\":\"u\"}}",
        "{\"kind\":\"Pod\",\"apiVersion\":\"v1\"}",
        "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\"}",
        "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":[]}",
        "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{}}",
        "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":7}}",
        "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":\"\"}}",
        "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":\"u\"}}",
        "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":\"u\","
            + "\"kind\":{\"kind\":\"Pod\"},\"object\":[1]}}",
        "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":\"u\","
            + "\"kind\":{\"group\":\"apps\",\"kind\":\"Pod\"},\"object\":{}}}",
        "\u00ff\u00fe garbage",
    })
    void malformedReviewsAre400(String body) {
        RegistryException e = assertThrows(RegistryException.class,
                () -> webhook(new FakeCheck()).review(body.getBytes(StandardCharsets.ISO_8859_1)));
        assertEquals(400, e.status().code(), e.getMessage());
        assertFalse(e.getMessage().isBlank());
    }

    @Test
    void theMessagesSayWhatIsWrong() throws Exception {
        RewriteWebhook webhook = webhook(new FakeCheck());
        assertTrue(message(webhook, "nope".getBytes()).startsWith("the body is not JSON"));
        assertTrue(message(webhook, fixture("deployment.json")).contains("only Pods are rewritten"));
        assertTrue(message(webhook, "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\"}"
                .getBytes()).contains("has no request"));
        assertTrue(message(webhook, ("{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\","
                + "\"request\":{}}").getBytes()).contains("has no uid"));
    }

    @Test
    void oddContainersAreSkippedNotFailed() throws Exception {
        String review = "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{"
                + "\"uid\":\"u\",\"kind\":{\"kind\":\"Pod\"},\"object\":{\"spec\":{\"containers\":[{\"name\":\"a\"},"
                + "{\"name\":\"b\",\"image\":5},{\"name\":\"c\",\"image\":\"nginx\"}],\"initContainers\":{}}}}}";
        JsonNode answer = answer(webhook(new FakeCheck()), review.getBytes());
        JsonNode patch = JSON.readTree(Base64.getDecoder().decode(answer.get("response").get("patch").asText()));
        assertEquals("[{\"op\":\"replace\",\"path\":\"/spec/containers/2/image\","
                + "\"value\":\"wharf.example.com/docker.io/library/nginx:latest\"}]", patch.toString());
    }

    private static String message(RewriteWebhook webhook, byte[] body) {
        return assertThrows(RegistryException.class, () -> webhook.review(body)).getMessage();
    }
}
