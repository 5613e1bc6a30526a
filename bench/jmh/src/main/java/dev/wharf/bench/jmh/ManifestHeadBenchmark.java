package dev.wharf.bench.jmh;

import dev.wharf.server.app.WharfServer;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import dev.wharf.storage.TagEntry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The manifest HEAD response path through wharf's real server and pipeline: a {@link WharfServer} on a loopback port
 * whose store already holds the manifest, its project link and its tag (fetched now, TTL 1 h), so no request goes
 * upstream (the upstream is a closed port; the set-up fails if a HEAD is not a plain 200). One keep-alive connection
 * sends a pre-encoded HEAD and reads the response head; the round trip includes the loopback socket, which is the
 * floor of this figure (nginx's static HEAD is the comparison the issue makes).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx256m"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ManifestHeadBenchmark {
    private static final String PROJECT = "bench";
    private static final String REPO = "bench/app";
    private static final String MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
    private static final String ACCEPT = MEDIA_TYPE + ", application/vnd.docker.distribution.manifest.v2+json, "
            + "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

    private Path root;
    private WharfServer server;
    private Socket socket;
    private InputStream in;
    private OutputStream out;
    private byte[] headByDigest;
    private byte[] headByTag;
    private final byte[] buffer = new byte[16 << 10];

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        root = Files.createTempDirectory("wharf-jmh-head");
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + MEDIA_TYPE + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:"
                + "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}")
                .getBytes(StandardCharsets.UTF_8);
        Digest digest = Digest.sha256(manifest);
        ContentStore seed = new ContentStore(root);
        seed.putSmall(digest, manifest);
        seed.link(PROJECT, digest, MEDIA_TYPE);
        seed.putTag(PROJECT, REPO, "v1", new TagEntry(digest, MEDIA_TYPE, Instant.now()));
        String yaml = "listen: 127.0.0.1:0\nstorage:\n  path: " + root + "\nprojects:\n  - name: " + PROJECT
                + "\n    upstream: http://127.0.0.1:9\n    tagTtl: 1h\n"
                // One JSON line per request, as in production, but to a file: on stdout it would go through JMH's
                // pipe to the harness and measure that.
                + "accessLog:\n  path: " + root.resolve("access.log") + "\n";
        server = new WharfServer(ConfigLoader.parse(yaml, "jmh")).start();
        socket = new Socket("127.0.0.1", server.port());
        socket.setTcpNoDelay(true);
        socket.setSoTimeout(10_000);
        in = socket.getInputStream();
        out = socket.getOutputStream();
        headByDigest = request("/v2/" + PROJECT + "/" + REPO + "/manifests/" + digest);
        headByTag = request("/v2/" + PROJECT + "/" + REPO + "/manifests/v1");
        for (byte[] head : new byte[][] {headByDigest, headByTag}) {
            String response = exchange(head);
            if (!response.startsWith("HTTP/1.1 200") || response.toLowerCase().contains("\nwarning:")) {
                throw new IllegalStateException("not a cached 200: " + response);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        socket.close();
        server.close();
        try (Stream<Path> all = Files.walk(root)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Benchmark
    public int headByDigest() throws IOException {
        return roundTrip(headByDigest);
    }

    @Benchmark
    public int headByTag() throws IOException {
        return roundTrip(headByTag);
    }

    private static byte[] request(String path) {
        return ("HEAD " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: " + ACCEPT + "\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1);
    }

    /** Sends one request and reads its response head (a HEAD has no body); returns the bytes read. */
    private int roundTrip(byte[] request) throws IOException {
        out.write(request);
        out.flush();
        int n = 0;
        while (!endsWithBlankLine(n)) {
            int r = in.read(buffer, n, buffer.length - n);
            if (r < 0) {
                throw new IOException("wharf closed the connection");
            }
            n += r;
        }
        return n;
    }

    private String exchange(byte[] request) throws IOException {
        int n = roundTrip(request);
        return new String(buffer, 0, n, StandardCharsets.ISO_8859_1);
    }

    private boolean endsWithBlankLine(int n) {
        return n >= 4 && buffer[n - 4] == '\r' && buffer[n - 3] == '\n' && buffer[n - 2] == '\r' && buffer[n - 1] == '\n';
    }
}
