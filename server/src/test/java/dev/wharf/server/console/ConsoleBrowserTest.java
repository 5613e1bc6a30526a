package dev.wharf.server.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wharf.testing.DistributionRegistry;
import dev.wharf.testing.ImageSeeder;
import dev.wharf.testing.ImageSeeder.Image;
import dev.wharf.testing.ImageSeeder.Index;
import dev.wharf.testing.InProcessWharf;
import dev.wharf.testing.Pulls;
import dev.wharf.testing.RealRegistry;
import dev.wharf.testing.StoredBlobs;
import dev.wharf.testing.TcpRelay;
import dev.wharf.testing.ThrottleTap;
import dev.wharf.testing.Tools;
import dev.wharf.testing.WharfYaml;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web console in a real browser: Debian's headless chromium, driven by chromedriver through Selenium, against an
 * in-process wharf (console on the admin listener) in front of a real docker-registry. Logs in with the token,
 * compares the overview with {@code /metrics}, watches a throttled cold pull appear and grow on the fills page with
 * no reload, browses to a tag and checks its digest against the upstream's, runs a prefetch from the form, deletes a
 * tag after confirming; then checks that a request without a session gets no data, that forged cross-site POSTs
 * are refused, and that the pages asked no host but wharf's (the browser's performance log). Writes screenshots of
 * the overview, fills and browse views to docs/screenshots/.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@ExtendWith(RealRegistry.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleBrowserTest {
    static final String TOKEN = "console-admin-token-8c1f0a";
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(Duration.ofSeconds(10)).build();
    static final String ALL_MANIFESTS = "application/vnd.oci.image.index.v1+json, "
            + "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, "
            + "application/vnd.docker.distribution.manifest.v2+json";
    static final Path SCREENSHOTS = Path.of("..", "docs", "screenshots");

    private static DistributionRegistry upstream;
    private static Image small;
    private static Image big;
    private static Image prefetched;
    private static Index multi;
    private static TcpRelay slowRelay;
    private static InProcessWharf wharf;
    private static String admin;
    private static ChromeDriver browser;
    private static final List<String> requestedUrls = new ArrayList<>();

    @BeforeAll
    static void start(DistributionRegistry r, ImageSeeder seeder) throws Exception {
        Path chromium = Tools.require("chromium");
        Path chromedriver = Tools.require("chromedriver");
        upstream = r;
        small = seeder.pushOciImage(upstream.url(), "library/console-small", "v1", 64 << 10, 301);
        seeder.tag(upstream.url(), small, "v2");
        big = seeder.pushOciImage(upstream.url(), "library/console-big", "v1", 3 << 20, 302);
        prefetched = seeder.pushOciImage(upstream.url(), "library/console-prefetch", "v1", 48 << 10, 303);
        multi = seeder.pushIndex(upstream.url(), "library/console-multi", "v1",
                List.of(ImageSeeder.Platform.LINUX_AMD64, ImageSeeder.Platform.LINUX_ARM64), 304);
        // The "slow" project reaches the same registry through a relay that holds its answers to 256 KiB/s.
        slowRelay = TcpRelay.toLocalPort(upstream.port(), new ThrottleTap(256 << 10));
        Path storage = Files.createTempDirectory("wharf-console-test");
        wharf = InProcessWharf.start(storage, WharfYaml.config().adminToken(TOKEN).adminListen("127.0.0.1:0")
                .storageBounds("1GiB", 0.95, 0.85)
                .project(WharfYaml.project("hub", upstream.url()).aliases("docker.io"))
                .project(WharfYaml.project("slow", slowRelay.url())));
        admin = "127.0.0.1:" + wharf.server().adminPort();

        // Traffic for the overview: a cold pull (misses) and a warm one (hits) of one image, and an index.
        Pulls.getBytes(URI.create(wharf.url() + "/v2/hub/library/console-small/manifests/v1"), "Accept", ALL_MANIFESTS);
        for (int i = 0; i < 2; i++) {
            Pulls.getBytes(URI.create(wharf.url() + "/v2/hub/library/console-small/manifests/v1"),
                    "Accept", ALL_MANIFESTS);
            for (String layer : small.layerDigests()) {
                Pulls.getBytes(URI.create(wharf.url() + "/v2/hub/library/console-small/blobs/" + layer));
            }
            StoredBlobs.await(wharf.server().store(), small.layerDigests()); // committed: the second round hits
        }
        Pulls.getBytes(URI.create(wharf.url() + "/v2/hub/library/console-multi/manifests/v1"), "Accept", ALL_MANIFESTS);
        Pulls.getBytes(URI.create(wharf.url() + "/v2/hub/library/console-small/manifests/v2"), "Accept", ALL_MANIFESTS);

        System.setProperty("webdriver.chrome.driver", chromedriver.toString()); // no Selenium Manager lookups
        ChromeOptions options = new ChromeOptions();
        options.setBinary(chromium.toFile());
        Path profile = Files.createDirectories(Path.of("target", "chromium-profile-" + ProcessHandle.current().pid()));
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--user-data-dir=" + profile.toAbsolutePath(), "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-default-apps");
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.PERFORMANCE, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File(chromedriver.toString())).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        browser.manage().window().setSize(new Dimension(1280, 900));
        // What the browser loaded on its own before any page of ours (its internal new-tab page) is not a page's.
        browser.manage().logs().get(LogType.PERFORMANCE);
        Files.createDirectories(SCREENSHOTS);
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.quit();
        }
        if (wharf != null) {
            wharf.close();
        }
        if (slowRelay != null) {
            slowRelay.close();
        }
    }

    // ------------------------------------------------------------------------------------------------ the tests

    @Test
    @Order(1)
    void logsInWithTheTokenAndTheOverviewShowsWhatMetricsShows() throws Exception {
        browser.get(ui("/ui/overview"));
        awaitUrl("/ui/login"); // without a session the console asks to log in
        find(By.id("secret")).sendKeys("not-the-token");
        find(By.id("login")).click();
        assertTrue(find(By.className("error")).getText().contains("Wrong credentials"));
        find(By.id("secret")).sendKeys(TOKEN);
        find(By.id("login")).click();
        awaitUrl("/ui/overview");
        assertNotNull(browser.manage().getCookieNamed(Console.COOKIE), "a session cookie");
        assertTrue(browser.manage().getCookieNamed(Console.COOKIE).isHttpOnly());
        assertFalse(browser.getPageSource().contains(TOKEN), "the token never appears in a page");

        Map<String, Double> page = new HashMap<>();
        for (String id : List.of("total-hits", "total-misses", "total-served-cache", "total-served-upstream",
                "total-upstream-bytes", "storage-bytes", "storage-blobs", "evictions", "evicted-bytes",
                "fills-inflight", "storage-max")) {
            page.put(id, Double.parseDouble(find(By.id(id)).getAttribute("data-value")));
        }
        String metrics = scrape();
        assertEquals(sum(metrics, "wharf_cache_total", "result", "miss", false), page.get("total-hits"));
        assertEquals(sum(metrics, "wharf_cache_total", "result", "miss", true), page.get("total-misses"));
        assertEquals(sum(metrics, "wharf_served_bytes_total", "source", "cache", true), page.get("total-served-cache"));
        assertEquals(sum(metrics, "wharf_served_bytes_total", "source", "upstream", true),
                page.get("total-served-upstream"));
        assertEquals(sum(metrics, "wharf_upstream_bytes_total", null, null, true), page.get("total-upstream-bytes"));
        assertEquals(sum(metrics, "wharf_storage_bytes", null, null, true), page.get("storage-bytes"));
        assertEquals(sum(metrics, "wharf_storage_blobs", null, null, true), page.get("storage-blobs"));
        assertEquals(sum(metrics, "wharf_evictions_total", null, null, true), page.get("evictions"));
        assertEquals(sum(metrics, "wharf_evicted_bytes_total", null, null, true), page.get("evicted-bytes"));
        assertEquals(sum(metrics, "wharf_fills_inflight", null, null, true), page.get("fills-inflight"));
        assertEquals(1L << 30, page.get("storage-max").longValue());
        assertTrue(page.get("total-hits") > 0 && page.get("total-misses") > 0, "the pulls made hits and misses: "
                + page);
        assertTrue(page.get("total-served-cache") > 0, page.toString());
        // Both projects are listed with their circuit state.
        assertEquals(2, browser.findElements(By.cssSelector("#projects-table tr[data-project]")).size());
        assertTrue(find(By.id("projects-table")).getText().contains("closed"));
        screenshot("overview");
        browser.manage().window().setSize(new Dimension(390, 844));
        screenshot("overview-phone");
        browser.manage().window().setSize(new Dimension(1280, 900));
        collectRequests();
    }

    @Test
    @Order(2)
    void aThrottledColdPullAppearsOnTheFillsPageAndGrowsWithoutAReload() throws Exception {
        browser.get(ui("/ui/fills"));
        WebElement heading = find(By.tagName("h1"));
        String layer = big.layerDigests().get(big.layerDigests().size() - 1);
        long size = big.layerSizes().get(big.layerSizes().size() - 1);
        CompletableFuture<HttpResponse<byte[]>> pull = CompletableFuture.supplyAsync(() -> {
            try {
                return Pulls.getBytes(URI.create(wharf.url() + "/v2/slow/library/console-big/blobs/" + layer));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        By row = By.cssSelector("#fills-body tr[data-digest='" + layer + "']");
        // The script rebuilds the table every second, so a row found may be gone when read: read it in one go, and
        // look again if it went stale.
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20), Duration.ofMillis(100));
        wait.ignoring(StaleElementReferenceException.class);
        String[] first = wait.until(d -> d.findElements(row).stream()
                .map(e -> new String[] {e.getAttribute("data-bytes"), e.getAttribute("data-size"), e.getText()})
                .filter(r -> Long.parseLong(r[0]) > 0).findFirst().orElse(null));
        long bytesBefore = Long.parseLong(first[0]);
        assertEquals(size, Long.parseLong(first[1]));
        assertTrue(first[2].contains("slow/library/console-big"), first[2]);
        screenshot("fills");
        long bytesLater = wait.until(d -> {
            List<WebElement> rows = d.findElements(row);
            if (rows.isEmpty()) {
                return null;
            }
            long b = Long.parseLong(rows.get(0).getAttribute("data-bytes"));
            return b > bytesBefore ? b : null;
        });
        assertTrue(bytesLater > bytesBefore && bytesLater <= size, bytesBefore + " then " + bytesLater);
        assertEquals("Fills in flight", heading.getText(), "the same page, not reloaded (the element is not stale)");
        HttpResponse<byte[]> done = pull.get(60, TimeUnit.SECONDS);
        assertEquals(200, done.statusCode());
        assertEquals(size, done.body().length);
        wait.until(d -> d.findElements(row).isEmpty()); // the finished fill leaves the page, again without a reload
        assertEquals("Fills in flight", heading.getText());
        collectRequests();
    }

    @Test
    @Order(3)
    void browsesDownToATagWhoseDigestIsTheUpstreamsAndDeletesItAfterConfirming() throws Exception {
        browser.get(ui("/ui/overview"));
        find(By.linkText("Browse")).click();
        find(By.linkText("hub")).click();
        find(By.linkText("library/console-small")).click();
        awaitUrl("/ui/tags?");
        find(By.id("browse-tags"));
        screenshot("browse");
        find(By.linkText("v1")).click();
        String shown = find(By.id("tag-digest")).getText();
        HttpResponse<String> head = HTTP.send(HttpRequest.newBuilder(URI.create(upstream.url()
                + "/v2/library/console-small/manifests/v1")).method("HEAD", HttpRequest.BodyPublishers.noBody())
                .header("Accept", ALL_MANIFESTS).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(head.headers().firstValue("Docker-Content-Digest").orElseThrow(), shown);
        assertEquals(small.manifestDigest(), shown);

        // An index shows its platforms.
        browser.get(ui("/ui/tag?project=hub&repository=library/console-multi&tag=v1"));
        String platforms = find(By.id("tag-platforms")).getText();
        assertTrue(platforms.contains("linux/amd64") && platforms.contains("linux/arm64/v8"), platforms);
        screenshot("browse-index");

        // Delete v2 of console-small: first a confirmation page, then the tag is gone.
        browser.get(ui("/ui/tag?project=hub&repository=library/console-small&tag=v2"));
        find(By.id("delete-tag")).click();
        awaitUrl("/ui/tag/delete?"); // a confirmation step first
        assertEquals(200, adminApi("/api/v1/projects/hub/repositories/library/console-small/-/tags/v2").statusCode(),
                "nothing is deleted before confirming");
        find(By.id("confirm-delete")).click();
        assertTrue(find(By.id("deleted-notice")).getText().contains("v2"));
        assertEquals(404, adminApi("/api/v1/projects/hub/repositories/library/console-small/-/tags/v2").statusCode());
        assertEquals(200, adminApi("/api/v1/projects/hub/repositories/library/console-small/-/tags/v1").statusCode());
        List<String> left = browser.findElements(By.cssSelector("#browse-tags tr[data-tag]")).stream()
                .map(e -> e.getAttribute("data-tag")).toList();
        assertEquals(List.of("v1"), left);
        collectRequests();
    }

    @Test
    @Order(4)
    void aPrefetchFromTheFormRunsToTheEnd() throws Exception {
        browser.get(ui("/ui/prefetch"));
        find(By.id("images")).sendKeys("hub/library/console-prefetch:v1");
        find(By.id("platforms")).sendKeys("linux/amd64");
        find(By.id("start-prefetch")).click();
        WebElement state = find(By.id("job-state"));
        String id = state.getAttribute("data-id");
        new WebDriverWait(browser, Duration.ofSeconds(60), Duration.ofMillis(200))
                .until(d -> state.getText().equals("succeeded") || state.getText().equals("failed"));
        assertEquals("succeeded", state.getText());
        String images = find(By.id("job-images")).getText();
        assertTrue(images.contains("done") && images.contains(prefetched.manifestDigest()), images);
        JsonNode job = JSON.readTree(adminApi("/api/v1/prefetch/" + id).body());
        assertEquals("succeeded", job.path("state").asText());
        assertEquals(prefetched.totalBlobBytes(), job.path("images").path(0).path("bytesDone").asLong());
        collectRequests();
    }

    @Test
    @Order(5)
    void withoutASessionThereIsTheLoginPageOrA401AndNeverData() throws Exception {
        for (String path : List.of("/ui", "/ui/overview", "/ui/fills", "/ui/projects",
                "/ui/tags?project=hub&repository=library/console-small",
                "/ui/tag?project=hub&repository=library/console-small&tag=v1", "/ui/prefetch")) {
            HttpResponse<String> r = send("GET", path, null, null, null);
            assertEquals(303, r.statusCode(), path);
            assertEquals("/ui/login", r.headers().firstValue("Location").orElse(null), path);
            assertFalse(r.body().contains("console-small") || r.body().contains("sha256:"), path);
        }
        for (String path : List.of("/ui/fills.json", "/ui/prefetch/job.json?id=1")) {
            HttpResponse<String> r = send("GET", path, null, null, null);
            assertEquals(401, r.statusCode(), path);
            assertFalse(r.body().contains("sha256:"), path);
        }
        for (String path : List.of("/ui/prefetch", "/ui/tag/delete", "/ui/logout")) {
            assertEquals(401, send("POST", path, null, "http://" + admin, "csrf=x").statusCode(), path);
        }
        // A made-up session id is no session.
        assertEquals(303, send("GET", "/ui/overview", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", null, null)
                .statusCode());
        HttpResponse<String> login = send("GET", "/ui/login", null, null, null);
        assertEquals(200, login.statusCode());
        String csp = login.headers().firstValue("Content-Security-Policy").orElse("");
        assertTrue(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), csp);
        assertEquals("DENY", login.headers().firstValue("X-Frame-Options").orElse(null));
        assertEquals("nosniff", login.headers().firstValue("X-Content-Type-Options").orElse(null));
        assertFalse(login.body().contains("<script>"), "no inline script");
        // The console lives on the admin listener: the registry address does not serve it.
        HttpResponse<String> onRegistry = HTTP.send(HttpRequest.newBuilder(URI.create(wharf.url() + "/ui/login"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(404, onRegistry.statusCode());
    }

    @Test
    @Order(6)
    void forgedCrossSitePostsToPrefetchAndDeleteAreRefused() throws Exception {
        String session = browser.manage().getCookieNamed(Console.COOKIE).getValue();
        browser.get(ui("/ui/prefetch"));
        String csrf = find(By.name("csrf")).getAttribute("value");
        int jobsBefore = JSON.readTree(adminApi("/api/v1/prefetch").body()).path("jobs").size();
        String self = "http://" + admin;
        String prefetchBody = "images=hub%2Flibrary%2Fconsole-small%3Av1&csrf=";
        String deleteBody = "project=hub&repository=library%2Fconsole-small&tag=v1&csrf=";
        for (String[] attempt : new String[][] {
                {"http://evil.example", csrf}, // foreign origin, even with the right token
                {null, csrf},                  // no Origin at all
                {self, ""},                    // no token
                {self, "wrong-token"}}) {       // wrong token
            HttpResponse<String> p = send("POST", "/ui/prefetch", session, attempt[0], prefetchBody + attempt[1]);
            assertEquals(403, p.statusCode(), "prefetch " + String.join(",", String.valueOf(attempt[0]), attempt[1]));
            HttpResponse<String> d = send("POST", "/ui/tag/delete", session, attempt[0], deleteBody + attempt[1]);
            assertEquals(403, d.statusCode(), "delete " + String.join(",", String.valueOf(attempt[0]), attempt[1]));
        }
        assertEquals(jobsBefore, JSON.readTree(adminApi("/api/v1/prefetch").body()).path("jobs").size(),
                "no job was started");
        assertEquals(200, adminApi("/api/v1/projects/hub/repositories/library/console-small/-/tags/v1").statusCode(),
                "the tag is still cached");
        // The same request from this origin with the token is let through (so the refusals above were the checks).
        HttpResponse<String> ok = send("POST", "/ui/prefetch", session, self, prefetchBody + csrf);
        assertEquals(303, ok.statusCode(), ok.body());
    }

    @Test
    @Order(7)
    void thePagesAskedNoHostButWharf() {
        collectRequests();
        assertTrue(requestedUrls.size() > 10, "the performance log recorded the pages' requests: " + requestedUrls);
        assertTrue(requestedUrls.stream().anyMatch(u -> u.endsWith("/ui/static/console.js")), requestedUrls.toString());
        assertTrue(requestedUrls.stream().anyMatch(u -> u.contains("/ui/fills.json")), requestedUrls.toString());
        for (String url : requestedUrls) {
            if (url.startsWith("data:")) {
                continue; // inline data, no request to any host
            }
            URI u = URI.create(url);
            assertEquals(admin, u.getHost() + ":" + u.getPort(), "a request to another host: " + url);
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /**
     * The element, once the page that has it is there: a click that submits a form returns before the next page
     * loads, so every look-up waits (up to 20 s) rather than racing the navigation.
     */
    private static WebElement find(By by) {
        return new WebDriverWait(browser, Duration.ofSeconds(20), Duration.ofMillis(50))
                .until(d -> d.findElements(by).stream().findFirst().orElse(null));
    }

    /** Waits until the browser is on a page whose URL holds {@code part}. */
    private static void awaitUrl(String part) {
        new WebDriverWait(browser, Duration.ofSeconds(20), Duration.ofMillis(50))
                .until(d -> d.getCurrentUrl().contains(part));
    }

    private static String ui(String path) {
        return "http://" + admin + path;
    }

    /** Reads the browser's performance log: the URL of every request the pages sent. */
    private static void collectRequests() {
        Pattern url = Pattern.compile("\"method\":\"Network\\.requestWillBeSent\".*?\"request\":\\{.*?\"url\":\"([^\"]+)\"");
        for (LogEntry e : browser.manage().logs().get(LogType.PERFORMANCE)) {
            Matcher m = url.matcher(e.getMessage());
            if (m.find()) {
                requestedUrls.add(m.group(1));
            }
        }
    }

    private static void screenshot(String name) throws IOException {
        Path shot = browser.getScreenshotAs(OutputType.FILE).toPath();
        Files.copy(shot, SCREENSHOTS.resolve("console-" + name + ".png"), StandardCopyOption.REPLACE_EXISTING);
    }

    private static String scrape() throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://" + admin + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        return r.body();
    }

    /**
     * Sums the samples of {@code family}; with a label, only those whose {@code label} is {@code value}
     * ({@code equal}) or is not ({@code !equal}).
     */
    private static double sum(String metrics, String family, String label, String value, boolean equal) {
        double sum = 0;
        for (String line : metrics.split("\n")) {
            if (!line.startsWith(family + "{") && !line.startsWith(family + " ")) {
                continue;
            }
            if (label != null && line.contains(label + "=\"" + value + "\"") != equal) {
                continue;
            }
            sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
        return sum;
    }

    private static HttpResponse<String> adminApi(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://" + admin + path))
                .header("Authorization", "Bearer " + TOKEN).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> send(String method, String path, String session, String origin, String form)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + admin + path))
                .timeout(Duration.ofSeconds(30))
                .method(method, form == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(form));
        if (session != null) {
            b.header("Cookie", Console.COOKIE + "=" + session);
        }
        if (origin != null) {
            b.header("Origin", origin);
        }
        if (form != null) {
            b.header("Content-Type", "application/x-www-form-urlencoded");
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
