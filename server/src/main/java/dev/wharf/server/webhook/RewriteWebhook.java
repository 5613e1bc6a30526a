package dev.wharf.server.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.Excerpt;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.http.AdmissionEndpoint;
import dev.wharf.server.http.Exchange;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;

/**
 * {@code POST /admission/rewrite}: reads an {@code admission.k8s.io/v1} AdmissionReview of a Pod and answers one
 * with the request's {@code uid}, {@code allowed: true} and, when a rule rewrites an image, the {@link PodPatch}
 * as a base64 JSONPatch. It never denies a Pod: the worst it does is leave images as they are. A body that is not
 * such a review gets a 400 naming what is wrong, never a 500.
 *
 * <p>Threading: {@link #review} parses on the caller's thread (the event loop, a few KiB of JSON) and completes on
 * whichever thread the last upstream check answers on; the response is written from there.
 */
public final class RewriteWebhook implements AdmissionEndpoint {
    static final String API_VERSION = "admission.k8s.io/v1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final PodPatch patch;

    public RewriteWebhook(ImageRewriter rewriter) {
        this.patch = new PodPatch(rewriter);
    }

    @Override
    public void handle(Exchange exchange, byte[] body) {
        CompletableFuture<byte[]> answer;
        try {
            answer = review(body);
        } catch (RegistryException e) {
            exchange.error(e);
            return;
        }
        answer.whenComplete((json, failure) -> {
            if (failure != null) {
                exchange.fail(failure);
            } else {
                exchange.bytes(HttpResponseStatus.OK, new DefaultHttpHeaders()
                        .set(HttpHeaderNames.CONTENT_TYPE, "application/json"), json);
            }
        });
    }

    /**
     * The AdmissionReview response to the review in {@code body}.
     *
     * @throws RegistryException with status 400 when {@code body} is not an {@code admission.k8s.io/v1}
     *                           AdmissionReview with a request, a uid and a Pod
     */
    public CompletableFuture<byte[]> review(byte[] body) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException | RuntimeException e) {
            throw bad("the body is not JSON: " + Excerpt.of(firstLine(e.getMessage())));
        }
        if (root == null || !root.isObject()) {
            throw bad("the body is not an AdmissionReview: expected a JSON object");
        }
        String kind = root.path("kind").asText("");
        if (!kind.equals("AdmissionReview")) {
            throw bad("the body is not an AdmissionReview: kind is '" + Excerpt.of(kind) + "'");
        }
        String apiVersion = root.path("apiVersion").asText("");
        if (!apiVersion.equals(API_VERSION)) {
            throw bad("AdmissionReview apiVersion must be " + API_VERSION + ", got '" + Excerpt.of(apiVersion)
                    + "' (set admissionReviewVersions: [v1] on the webhook)");
        }
        JsonNode request = root.get("request");
        if (request == null || !request.isObject()) {
            throw bad("the AdmissionReview has no request");
        }
        JsonNode uid = request.get("uid");
        if (uid == null || !uid.isTextual() || uid.asText().isEmpty()) {
            throw bad("the AdmissionReview's request has no uid");
        }
        JsonNode resource = request.path("kind");
        String group = resource.path("group").asText("");
        String resourceKind = resource.path("kind").asText("");
        if (!group.isEmpty() || !resourceKind.equals("Pod")) {
            throw bad("only Pods are rewritten; this request is for kind '"
                    + Excerpt.of(group.isEmpty() ? resourceKind : group + "/" + resourceKind)
                    + "' (scope the webhook's rules to pods)");
        }
        JsonNode pod = request.get("object");
        if (pod != null && !pod.isNull() && !pod.isObject()) {
            throw bad("the AdmissionReview's request.object is not a Pod object");
        }
        String requestUid = uid.asText();
        if (pod == null || pod.isNull()) {
            return CompletableFuture.completedFuture(response(requestUid, null)); // a DELETE carries no object
        }
        return patch.patch(pod).thenApply(ops -> response(requestUid, ops));
    }

    private static byte[] response(String uid, ArrayNode ops) {
        ObjectNode root = JSON.createObjectNode();
        root.put("apiVersion", API_VERSION);
        root.put("kind", "AdmissionReview");
        ObjectNode response = root.putObject("response");
        response.put("uid", uid);
        response.put("allowed", true);
        try {
            if (ops != null && !ops.isEmpty()) {
                response.put("patchType", "JSONPatch");
                response.put("patch", Base64.getEncoder().encodeToString(JSON.writeValueAsBytes(ops)));
            }
            return JSON.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new IllegalStateException("writing a JSON tree cannot fail", e);
        }
    }

    private static RegistryException bad(String message) {
        return RegistryException.badRequest(ErrorCode.UNSUPPORTED, message);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
