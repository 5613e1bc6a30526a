package dev.wharf.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.InProcessWharf;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code deploy/grafana/wharf-dashboard.json} is a Grafana dashboard on a Prometheus data-source variable, it has the
 * panels operators need (hit ratio, bytes saved, upstream errors, storage use, requests by status, fills in flight),
 * and every query uses only metric names wharf exports: wharf's own from the contract in {@link WharfMetrics},
 * JVM/Netty/process ones as a running wharf's scrape shows them.
 */
class DashboardTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "bool", "offset", "by", "without",
            "on", "ignoring", "group_left", "group_right", "inf", "nan");
    private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w$.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\\s*\\()?");

    @TempDir
    Path tmp;

    @Test
    void dashboardUsesOnlyExportedMetrics() throws Exception {
        JsonNode dash = JSON.readTree(dashboardFile().toFile());
        assertFalse(dash.path("title").asText().isEmpty(), "title");
        assertFalse(dash.path("uid").asText().isEmpty(), "uid");
        assertTrue(dash.path("schemaVersion").isInt(), "schemaVersion");

        JsonNode dsVar = null;
        List<String> variableQueries = new ArrayList<>();
        for (JsonNode v : dash.path("templating").path("list")) {
            if (v.path("type").asText().equals("datasource")) {
                dsVar = v;
            } else if (v.path("type").asText().equals("query")) {
                assertEquals("${" + dsVarName(dash) + "}", v.path("datasource").path("uid").asText(),
                        "variable " + v.path("name").asText());
                variableQueries.add(v.path("query").isObject() ? v.path("query").path("query").asText()
                        : v.path("query").asText());
            }
        }
        assertNotNull(dsVar, "no data-source variable");
        assertEquals("prometheus", dsVar.path("query").asText(), "the data-source variable's type");
        String dsRef = "${" + dsVar.path("name").asText() + "}";

        Map<String, List<String>> exprsByPanel = new LinkedHashMap<>();
        Set<Integer> ids = new HashSet<>();
        for (JsonNode p : dash.path("panels")) {
            assertTrue(ids.add(p.path("id").asInt()), "duplicate panel id " + p.path("id"));
            assertTrue(p.path("gridPos").has("w") && p.path("gridPos").has("h"), "gridPos of " + p.path("title"));
            if (p.path("type").asText().equals("row")) {
                continue;
            }
            String title = p.path("title").asText();
            assertEquals("prometheus", p.path("datasource").path("type").asText(), title);
            assertEquals(dsRef, p.path("datasource").path("uid").asText(), title);
            List<String> exprs = new ArrayList<>();
            for (JsonNode t : p.path("targets")) {
                assertEquals(dsRef, t.path("datasource").path("uid").asText(), title + " target " + t.path("refId"));
                assertFalse(t.path("expr").asText().isBlank(), title + " target " + t.path("refId"));
                exprs.add(t.path("expr").asText());
            }
            assertFalse(exprs.isEmpty(), "panel without queries: " + title);
            exprsByPanel.computeIfAbsent(title, k -> new ArrayList<>()).addAll(exprs);
        }

        requirePanel(exprsByPanel, "hit ratio", "wharf_cache_total", "result!=\"miss\"");
        requirePanel(exprsByPanel, "bytes saved", "wharf_served_bytes_total", "source=\"cache\"");
        requirePanel(exprsByPanel, "upstream errors", "wharf_upstream_requests_total", "status!~\"2..\"");
        requirePanel(exprsByPanel, "upstream errors", "wharf_digest_mismatch_total", "");
        requirePanel(exprsByPanel, "storage", "wharf_storage_bytes", "");
        requirePanel(exprsByPanel, "requests by status", "wharf_requests_total", "by (status)");
        requirePanel(exprsByPanel, "fills in flight", "wharf_fills_inflight", "");

        Set<String> contract = contractSampleNames();
        Set<String> scraped = scrapedNames();
        Set<String> unknown = new TreeSet<>();
        List<String> all = new ArrayList<>(variableQueries);
        exprsByPanel.values().forEach(all::addAll);
        for (String expr : all) {
            Set<String> names = metricNames(expr);
            assertFalse(names.isEmpty(), "no metric in " + expr);
            for (String name : names) {
                boolean known = name.startsWith("wharf_") ? contract.contains(name) : scraped.contains(name);
                if (!known) {
                    unknown.add(name + " (in " + expr + ")");
                }
            }
        }
        assertTrue(unknown.isEmpty(), "names wharf does not export: " + unknown);
    }

    @Test
    void metricNamesAreFoundInPromQl() {
        assertEquals(Set.of("wharf_cache_total"), metricNames(
                "sum by (kind) (rate(wharf_cache_total{project=~\"$project\",result!=\"miss\"}[$__rate_interval]))"));
        assertEquals(Set.of("wharf_request_duration_seconds_bucket"), metricNames("histogram_quantile(0.95, sum by "
                + "(le, kind) (rate(wharf_request_duration_seconds_bucket{project=~\"$project\"}[5m])))"));
        assertEquals(Set.of("a_total", "b_total"), metricNames("sum(rate(a_total[1m])) - on (x) b_total offset 5m"));
        assertEquals(Set.of("wharf_requests_total"), metricNames("label_values(wharf_requests_total, project)"));
    }

    /** Metric names in a PromQL expression (or a Grafana label_values query). */
    static Set<String> metricNames(String expr) {
        Matcher lv = Pattern.compile("^\\s*label_values\\(\\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*,.*\\)\\s*$").matcher(expr);
        if (lv.matches()) {
            return Set.of(lv.group(1));
        }
        String s = expr.replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"")
                .replaceAll("\\{[^}]*\\}", " ")
                .replaceAll("\\[[^\\]]*\\]", " ")
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ")
                .replaceAll("\\boffset\\s+\\S+", " ");
        Set<String> names = new TreeSet<>();
        Matcher m = IDENTIFIER.matcher(s);
        while (m.find()) {
            if (m.group(2) == null && !KEYWORDS.contains(m.group(1).toLowerCase(Locale.ROOT))) {
                names.add(m.group(1));
            }
        }
        return names;
    }

    private static void requirePanel(Map<String, List<String>> exprsByPanel, String title, String metric,
                                     String fragment) {
        boolean found = exprsByPanel.entrySet().stream()
                .filter(e -> e.getKey().toLowerCase(Locale.ROOT).contains(title))
                .flatMap(e -> e.getValue().stream())
                .anyMatch(x -> metricNames(x).contains(metric) && x.contains(fragment));
        assertTrue(found, "no panel titled like '" + title + "' queries " + metric + " with " + fragment + ": "
                + exprsByPanel.keySet());
    }

    /** Sample names of the contract: counters and gauges as named, histograms with their series. */
    private static Set<String> contractSampleNames() {
        Set<String> names = new TreeSet<>();
        WharfMetrics.CONTRACT.forEach((name, type) -> {
            if (type.equals("histogram")) {
                names.addAll(List.of(name + "_bucket", name + "_sum", name + "_count", name + "_max"));
            } else {
                names.add(name);
            }
        });
        return names;
    }

    /** What a running wharf exposes, parsed by the real parser. */
    private Set<String> scrapedNames() throws Exception {
        try (InProcessWharf wharf = InProcessWharf.start(tmp.resolve("store"), """
                accessLog:
                  enabled: false
                projects:
                  - name: hub
                    upstream: http://127.0.0.1:9
                """)) {
            assertEquals(200, wharf.get("/v2/").statusCode());
            return Scrapes.scrape(wharf).names();
        }
    }

    private static String dsVarName(JsonNode dash) {
        for (JsonNode v : dash.path("templating").path("list")) {
            if (v.path("type").asText().equals("datasource")) {
                return v.path("name").asText();
            }
        }
        return "datasource";
    }

    private static Path dashboardFile() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path d = dir; d != null; d = d.getParent()) {
            Path f = d.resolve("deploy/grafana/wharf-dashboard.json");
            if (Files.isRegularFile(f)) {
                return f;
            }
        }
        throw new AssertionError("deploy/grafana/wharf-dashboard.json not found above " + dir);
    }
}
