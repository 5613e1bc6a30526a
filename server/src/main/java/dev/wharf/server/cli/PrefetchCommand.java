package dev.wharf.server.cli;

import dev.wharf.server.prefetch.ImageProgress;
import dev.wharf.server.prefetch.ImageReference;
import dev.wharf.server.prefetch.Platform;
import dev.wharf.server.prefetch.PrefetchRun;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wharf prefetch -f FILE [--platform OS/ARCH[/VARIANT]]... [--url URL] [--parallel N]}: warms a running
 * wharf by pulling every image in FILE through its {@code /v2} API (manifests, configs, layers; bodies are checked
 * against their digests and dropped). Live progress per image; a summary; exit 1 if any image failed.
 *
 * <p>FILE holds one reference per line ({@link ImageReference} says which forms and where each goes); blank lines
 * and {@code #} comments are skipped; {@code -} reads standard input.
 */
@Command(name = "prefetch", mixinStandardHelpOptions = true, versionProvider = WharfVersion.class,
        synopsisHeading = "usage: ", customSynopsis = PrefetchCommand.USAGE,
        description = {"Warm a running wharf with the images listed in a file.",
                "FILE holds one reference a line (docker.io/library/nginx:1.27, quay.io/org/img@sha256:..., or a wharf path hub/library/x:tag); "
                + "'-' reads standard input; blank lines and # comments are skipped.",
                "Every platform of an index unless --platform is given. Exits 1 if any image failed."})
public final class PrefetchCommand implements Callable<Integer> {
    public static final String USAGE =
            "wharf prefetch -f FILE [--platform OS/ARCH[/VARIANT]]... [--url URL] [--parallel N]";
    static final String DEFAULT_URL = "http://127.0.0.1:5000";

    private final Streams io;

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "the image list ('-': standard input)")
    private String file;

    @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]",
            description = "only these platforms of an index (repeatable, or comma-separated)")
    private List<String> platformOptions = new ArrayList<>();

    @Option(names = "--url", paramLabel = "URL", description = "wharf's address (default: " + DEFAULT_URL + ")")
    private String urlOption;

    @Option(names = "--parallel", paramLabel = "N", description = "images pulled at once")
    private String parallelOption;

    public PrefetchCommand(Streams io) {
        this.io = io;
    }

    /** Runs the command; returns the exit code: 0 all pulled, 1 any failed (2 by a UsageError). */
    @Override
    public Integer call() throws Exception {
        PrintStream out = io.out();
        PrintStream err = io.err();
        boolean tty = io.tty();
        if (file == null) {
            throw new UsageError("-f FILE is required");
        }
        List<ImageReference> refs = readImages(file, io.in());
        List<Platform> platforms = new ArrayList<>();
        for (String p : platformOptions) {
            for (String one : p.split(",")) {
                platforms.add(parsePlatform(one));
            }
        }
        URI url = parseUrl(urlOption == null ? DEFAULT_URL : urlOption);
        int parallel = Options.positiveInt("--parallel", parallelOption, PrefetchRun.DEFAULT_PARALLEL_IMAGES);
        HttpClient http = PrefetchRun.newHttpClient();
        String unreachable = ping(http, url);
        if (unreachable != null) {
            err.println("wharf prefetch: cannot reach wharf at " + url + ": " + unreachable);
            return 1;
        }
        out.println("prefetching " + refs.size() + (refs.size() == 1 ? " image" : " images") + " through " + url
                + " (platforms: " + (platforms.isEmpty() ? "all" : platforms) + ")");
        List<ImageProgress> images = refs.stream().map(ImageProgress::new).toList();
        ProgressDisplay display = new ProgressDisplay(out, tty, images, 5000);
        long start = System.nanoTime();
        CompletableFuture<Void> run = CompletableFuture.runAsync(() -> {
            try {
                new PrefetchRun(http, url, parallel).run(images, platforms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        while (true) {
            try {
                run.get(tty ? 150 : 500, TimeUnit.MILLISECONDS);
                break;
            } catch (TimeoutException e) {
                display.tick();
            }
        }
        display.finish();
        double seconds = (System.nanoTime() - start) / 1e9;
        long failed = images.stream().filter(i -> i.state() != ImageProgress.State.DONE).count();
        long bytes = images.stream().mapToLong(ImageProgress::bytesDone).sum();
        long layers = images.stream().mapToLong(ImageProgress::layersDone).sum();
        out.println("summary: " + images.size() + " images, " + (images.size() - failed) + " ok, " + failed
                + " failed; " + Sizes.human(bytes) + " in " + layers + " layers in " + Sizes.seconds(seconds));
        for (ImageProgress i : images) {
            if (i.state() != ImageProgress.State.DONE) {
                out.println("  " + ProgressDisplay.finalLine(i));
            }
        }
        return failed > 0 ? 1 : 0;
    }

    /** Reads and parses the image list; a bad line is a usage error naming the file and line. */
    static List<ImageReference> readImages(String file, InputStream stdin) throws UsageError {
        List<String> lines;
        try {
            lines = file.equals("-")
                    ? new String(stdin.readAllBytes(), StandardCharsets.UTF_8).lines().toList()
                    : Files.readAllLines(Path.of(file), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UsageError("no such file: " + file);
        } catch (IOException e) {
            throw new UsageError("cannot read " + file + ": " + e.getMessage());
        }
        List<ImageReference> refs = new ArrayList<>();
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n);
            int hash = line.indexOf('#');
            String text = (hash >= 0 ? line.substring(0, hash) : line).strip();
            if (text.isEmpty()) {
                continue;
            }
            try {
                refs.add(ImageReference.parse(text));
            } catch (IllegalArgumentException e) {
                throw new UsageError(file + ":" + (n + 1) + ": " + e.getMessage());
            }
        }
        if (refs.isEmpty()) {
            throw new UsageError("no image references in " + file);
        }
        return refs;
    }

    private static Platform parsePlatform(String text) throws UsageError {
        try {
            return Platform.parse(text);
        } catch (IllegalArgumentException e) {
            throw new UsageError("--platform: " + e.getMessage());
        }
    }

    private static URI parseUrl(String text) throws UsageError {
        try {
            URI u = new URI(text);
            if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
                throw new UsageError("--url needs http://HOST:PORT or https://HOST:PORT, not '" + text + "'");
            }
            return u;
        } catch (java.net.URISyntaxException e) {
            throw new UsageError("--url: " + e.getMessage());
        }
    }

    /** Null if {@code GET /v2/} answers at all (any status: wharf may want credentials), else why not. */
    private static String ping(HttpClient http, URI url) {
        String base = url.toString().endsWith("/") ? url.toString().substring(0, url.toString().length() - 1)
                : url.toString();
        try {
            http.send(HttpRequest.newBuilder(URI.create(base + "/v2/")).timeout(Duration.ofSeconds(10)).GET().build(),
                    HttpResponse.BodyHandlers.discarding());
            return null;
        } catch (IOException e) {
            return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }
}
