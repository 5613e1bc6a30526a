package dev.wharf.server.metrics;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A scrape parsed by a real Prometheus text-format parser: the official Python client's
 * {@code prometheus_client.parser} (Debian's {@code python3-prometheus-client}), run as a child process. It rejects
 * anything that is not valid exposition text, so a scrape that parses here parses for Prometheus too. Java has no
 * maintained parser for the text format (client_java only writes it).
 *
 * <p>A missing parser is a failure naming the package, never a skip: {@code .ci/run} installs it.
 */
public final class PrometheusText {
    private static final String SCRIPT = String.join("\n",
            "import json, sys",
            "from prometheus_client.parser import text_string_to_metric_families",
            "out = []",
            "for fam in text_string_to_metric_families(sys.stdin.read()):",
            "    for s in fam.samples:",
            "        out.append({'family': fam.name, 'type': fam.type, 'name': s.name, 'labels': s.labels,",
            "                    'value': s.value})",
            "json.dump(out, sys.stdout)",
            "");
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
    private static volatile String python;

    /** One sample line. */
    public record Sample(String family, String type, String name, Map<String, String> labels, double value) {
    }

    private final List<Sample> samples;

    private PrometheusText(List<Sample> samples) {
        this.samples = List.copyOf(samples);
    }

    /** Parses {@code text}; fails the test with the parser's message if it is not valid exposition text. */
    public static PrometheusText parse(String text) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(python(), "-c", SCRIPT).redirectErrorStream(false).start();
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
        try (OutputStream in = p.getOutputStream()) {
            in.write(text.getBytes(StandardCharsets.UTF_8));
        }
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the Prometheus text parser did not finish in 60 s");
        }
        String stderr = new String(err.join(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new AssertionError("not valid Prometheus text (prometheus_client.parser): " + stderr);
        }
        List<Sample> samples = new ArrayList<>();
        for (JsonNode s : JSON.readTree(out.join())) {
            Map<String, String> labels = new TreeMap<>();
            s.get("labels").fields().forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
            samples.add(new Sample(s.get("family").asText(), s.get("type").asText(), s.get("name").asText(), labels,
                    s.get("value").asDouble()));
        }
        return new PrometheusText(samples);
    }

    public List<Sample> samples() {
        return samples;
    }

    /** Every sample name (e.g. {@code wharf_requests_total}, {@code wharf_request_duration_seconds_bucket}). */
    public Set<String> names() {
        Set<String> names = new TreeSet<>();
        samples.forEach(s -> names.add(s.name()));
        return names;
    }

    /** The type the parser gave the family of sample {@code name}, or null. */
    public String typeOf(String name) {
        return samples.stream().filter(s -> s.name().equals(name)).map(Sample::type).findFirst().orElse(null);
    }

    /**
     * The sum of the samples named {@code name} whose labels include every pair in {@code labels} (given as
     * key, value, key, value...). Fails when no sample matches: a metric that is missing is not a metric at 0.
     */
    public double sum(String name, String... labels) {
        Map<String, String> want = new HashMap<>();
        for (int i = 0; i + 1 < labels.length; i += 2) {
            want.put(labels[i], labels[i + 1]);
        }
        double total = 0;
        boolean found = false;
        for (Sample s : samples) {
            if (s.name().equals(name) && s.labels().entrySet().containsAll(want.entrySet())) {
                total += s.value();
                found = true;
            }
        }
        if (!found) {
            throw new AssertionError("no sample " + name + want + " in the scrape; " + show(name));
        }
        return total;
    }

    /** Samples named {@code name}, as "labels = value" lines, for failure messages. */
    public String show(String name) {
        Map<String, Double> lines = new LinkedHashMap<>();
        samples.stream().filter(s -> s.name().equals(name)).forEach(s -> lines.put(s.labels().toString(), s.value()));
        return name + " " + lines;
    }

    private static String python() throws IOException, InterruptedException {
        String found = python;
        if (found != null) {
            return found;
        }
        // Debian's interpreter first: the package installs the module for it, and a PATH shim (pyenv) may not see it.
        List<String> candidates = new ArrayList<>(List.of("/usr/bin/python3"));
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isBlank()) {
                candidates.add(Path.of(dir, "python3").toString());
            }
        }
        for (String candidate : candidates) {
            if (!Files.isExecutable(Path.of(candidate))) {
                continue;
            }
            Process p = new ProcessBuilder(candidate, "-c", "import prometheus_client.parser")
                    .redirectErrorStream(true).start();
            readAll(p.getInputStream());
            if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
                python = candidate;
                return candidate;
            }
            p.destroyForcibly();
        }
        throw new AssertionError("the Prometheus text parser is not installed: no python3 with prometheus_client "
                + "(tried " + candidates + "); run .ci/run or apt-get install python3-prometheus-client");
    }

    private static byte[] readAll(InputStream in) {
        try (in) {
            return in.readAllBytes();
        } catch (IOException e) {
            return new byte[0];
        }
    }
}
