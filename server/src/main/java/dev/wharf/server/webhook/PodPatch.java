package dev.wharf.server.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The JSONPatch (RFC 6902) that points a Pod's images at wharf: one {@code replace} op on
 * {@code /spec/<list>/<i>/image} for each container, init container and ephemeral container whose image a rule
 * rewrites, and none for the others. An empty patch means nothing changes.
 */
public final class PodPatch {
    /** The container lists of a Pod spec, in the order the ops come. */
    static final List<String> CONTAINER_LISTS = List.of("initContainers", "containers", "ephemeralContainers");

    private final ImageRewriter rewriter;

    public PodPatch(ImageRewriter rewriter) {
        this.rewriter = rewriter;
    }

    /**
     * The patch for {@code pod} (a Pod object as the admission request carries it). Each distinct image is
     * rewritten once, however many containers run it; the patch completes when the last image's upstream check
     * has answered.
     */
    public CompletableFuture<ArrayNode> patch(JsonNode pod) {
        JsonNode spec = pod == null ? null : pod.get("spec");
        record Site(String pointer, String image) {
        }
        List<Site> sites = new ArrayList<>();
        if (spec != null && spec.isObject()) {
            for (String list : CONTAINER_LISTS) {
                JsonNode containers = spec.get(list);
                if (containers == null || !containers.isArray()) {
                    continue;
                }
                for (int i = 0; i < containers.size(); i++) {
                    JsonNode image = containers.get(i).get("image");
                    if (image != null && image.isTextual()) {
                        sites.add(new Site("/spec/" + list + "/" + i + "/image", image.asText()));
                    }
                }
            }
        }
        Map<String, CompletableFuture<String>> rewrites = new HashMap<>();
        for (Site site : sites) {
            rewrites.computeIfAbsent(site.image(), rewriter::rewrite);
        }
        return CompletableFuture.allOf(rewrites.values().toArray(CompletableFuture[]::new)).thenApply(done -> {
            ArrayNode ops = JsonNodeFactory.instance.arrayNode();
            for (Site site : sites) {
                String rewritten = rewrites.get(site.image()).join();
                if (!rewritten.equals(site.image())) {
                    ObjectNode op = ops.addObject();
                    op.put("op", "replace");
                    op.put("path", site.pointer());
                    op.put("value", rewritten);
                }
            }
            return ops;
        });
    }
}
