package dev.wharf.server.admin;

import dev.wharf.server.api.Excerpt;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wharf.server.api.ErrorCode;
import dev.wharf.server.api.RegistryException;
import dev.wharf.server.http.Exchange;
import dev.wharf.server.prefetch.ImageProgress;
import dev.wharf.server.prefetch.ImageReference;
import dev.wharf.server.prefetch.Platform;
import dev.wharf.server.prefetch.PrefetchJobs;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;

/**
 * The prefetch part of the admin API: {@code POST /api/v1/prefetch} starts a job from a JSON list of images and
 * platforms, {@code GET /api/v1/prefetch[/{id}]} reports the jobs and their per-image progress. The token check and
 * the routing to here are {@link AdminApi}'s.
 */
final class PrefetchResource {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_PREFETCH_IMAGES = 10_000;
    private static final String PREFIX = AdminApi.PREFIX;

    private final PrefetchJobs jobs;

    PrefetchResource(PrefetchJobs jobs) {
        this.jobs = jobs;
    }

    /** {@code /api/v1/prefetch[/{id}]}; {@code segs} are the path segments after {@code prefetch}. */
    void route(Exchange ex, HttpMethod m, List<String> segs, byte[] body) {
        if (segs.isEmpty()) {
            if (m.equals(HttpMethod.POST)) {
                startPrefetch(ex, body);
                return;
            }
            AdminApi.only(m, HttpMethod.GET, HttpMethod.POST);
            ObjectNode out = JSON.createObjectNode();
            ArrayNode list = out.putArray("jobs");
            jobs.all().forEach(j -> list.add(jobJson(j, false)));
            AdminApi.json(ex, HttpResponseStatus.OK, out);
            return;
        }
        if (segs.size() != 1) {
            throw AdminApi.notFound(AdminApi.path(ex));
        }
        AdminApi.only(m, HttpMethod.GET);
        PrefetchJobs.Job job = jobs.get(segs.get(0)).orElseThrow(() -> RegistryException.notFound(
                ErrorCode.NAME_UNKNOWN, "no prefetch job " + Excerpt.of(segs.get(0))));
        AdminApi.json(ex, HttpResponseStatus.OK, jobJson(job, true));
    }

    private void startPrefetch(Exchange ex, byte[] body) {
        JsonNode request;
        try {
            request = JSON.readTree(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw RegistryException.badRequest(ErrorCode.UNSUPPORTED, "the body is not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw RegistryException.badRequest(ErrorCode.UNSUPPORTED, "the body is not JSON");
        }
        if (request == null || !request.isObject() || !request.path("images").isArray()
                || request.path("images").isEmpty()) {
            throw RegistryException.badRequest(ErrorCode.UNSUPPORTED,
                    "expected {\"images\": [\"docker.io/library/nginx:1.27\", ...], \"platforms\": [\"linux/amd64\"]}");
        }
        if (request.path("images").size() > MAX_PREFETCH_IMAGES) {
            throw RegistryException.badRequest(ErrorCode.UNSUPPORTED,
                    "at most " + MAX_PREFETCH_IMAGES + " images per prefetch job");
        }
        List<ImageReference> refs = new ArrayList<>();
        for (JsonNode image : request.get("images")) {
            try {
                refs.add(ImageReference.parse(image.isTextual() ? image.asText() : null));
            } catch (IllegalArgumentException e) {
                throw RegistryException.badRequest(ErrorCode.NAME_INVALID, e.getMessage());
            }
        }
        List<Platform> platforms = new ArrayList<>();
        JsonNode wanted = request.path("platforms");
        if (!wanted.isMissingNode() && !wanted.isNull() && !wanted.isArray()) {
            throw RegistryException.badRequest(ErrorCode.UNSUPPORTED, "platforms must be a list like [\"linux/amd64\"]");
        }
        for (JsonNode p : wanted) {
            try {
                platforms.add(Platform.parse(p.isTextual() ? p.asText() : null));
            } catch (IllegalArgumentException e) {
                throw RegistryException.badRequest(ErrorCode.UNSUPPORTED, e.getMessage());
            }
        }
        PrefetchJobs.Job job;
        try {
            job = jobs.submit(refs, platforms);
        } catch (RejectedExecutionException e) {
            throw new RegistryException(ErrorCode.TOOMANYREQUESTS, HttpResponseStatus.TOO_MANY_REQUESTS,
                    "too many prefetch jobs are waiting; try again later");
        }
        HttpHeaders h = new DefaultHttpHeaders().set(HttpHeaderNames.LOCATION, PREFIX + "/prefetch/" + job.id());
        AdminApi.json(ex, HttpResponseStatus.ACCEPTED, h, jobJson(job, true));
    }

    private static ObjectNode jobJson(PrefetchJobs.Job job, boolean withImages) {
        ObjectNode out = JSON.createObjectNode()
                .put("id", job.id())
                .put("state", job.state().name().toLowerCase(java.util.Locale.ROOT))
                .put("createdAt", job.createdAt().toString());
        if (job.finishedAt() != null) {
            out.put("finishedAt", job.finishedAt().toString());
        } else {
            out.putNull("finishedAt");
        }
        ArrayNode platforms = out.putArray("platforms");
        job.platforms().forEach(p -> platforms.add(p.toString()));
        long done = job.images().stream().filter(i -> i.state() == ImageProgress.State.DONE).count();
        long failed = job.images().stream().filter(i -> i.state() == ImageProgress.State.FAILED).count();
        out.putObject("summary").put("images", job.images().size()).put("done", done).put("failed", failed);
        if (withImages) {
            ArrayNode images = out.putArray("images");
            for (ImageProgress i : job.images()) {
                ObjectNode o = images.addObject()
                        .put("reference", i.reference().text())
                        .put("state", i.state().name().toLowerCase(java.util.Locale.ROOT))
                        .put("digest", i.digest())
                        .put("manifests", i.manifests())
                        .put("bytesDone", i.bytesDone())
                        .put("bytesTotal", i.bytesTotal())
                        .put("layersDone", i.layersDone())
                        .put("layersTotal", i.layersTotal())
                        .put("seconds", Math.round(i.seconds() * 1000) / 1000.0);
                o.put("error", i.error());
                o.put("note", i.note());
            }
        }
        return out;
    }

    PrefetchJobs jobs() {
        return jobs;
    }

    /** Cancels the jobs still running. */
    void close() {
        jobs.close();
    }
}
