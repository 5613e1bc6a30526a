package dev.wharf.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * A real S3-compatible server on 127.0.0.1: SeaweedFS's {@code weed server -s3} (master, volume, filer and S3
 * gateway in one process; built by server/src/test/seaweedfs/build.sh, which .ci/run calls) in its own temp
 * directory, with one identity (access key + secret) and one bucket. {@link #stop} and {@link #start} again keep the
 * data and the ports, so a test can take S3 away mid-run and bring it back. Stopped by its PID only.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final SeaweedS3 s3 = new SeaweedS3();
 * ...
 * s3.endpoint(); s3.bucket(); s3.accessKey(); s3.secretKeyFile();
 * s3.keys("prefix/");          // what the bucket holds, for assertions
 * }</pre>
 */
public final class SeaweedS3 implements BeforeAllCallback, AfterAllCallback, AutoCloseable {
    /** The SeaweedFS version server/src/test/seaweedfs/build.sh builds; the binary's cache path names it. */
    public static final String VERSION = "v0.0.0-20261109003541-7506e5f91cd6";
    /** The bucket created at start. */
    public static final String BUCKET = "wharf";
    private static final String ACCESS_KEY = "wharf-test";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    private final String secretKey = UUID.randomUUID().toString().replace("-", "");
    private Path dir;
    private ChildProcess process;
    private int s3Port;
    private final List<Integer> otherPorts = new ArrayList<>();
    private S3Client client;

    /** The weed binary, or a failure that names the tool and says how to build it. */
    public static Path weed() {
        return Tools.built("weed", VERSION, "WHARF_WEED", "server/src/test/seaweedfs/build.sh");
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    /**
     * Starts SeaweedFS (the first time on fresh free ports in a new temp directory; after {@link #stop}, on the same
     * ones, with the same data), waits until its S3 gateway answers, and creates {@link #BUCKET} if it is missing.
     */
    public synchronized void start() {
        if (process != null && process.isAlive()) {
            return;
        }
        Path binary = weed();
        try {
            if (dir == null) {
                dir = Files.createTempDirectory("wharf-seaweed-");
                Files.createDirectories(dir.resolve("data"));
                Files.writeString(dir.resolve("s3.json"), """
                        {"identities": [{"name": "wharf", "credentials": [{"accessKey": "%s", "secretKey": "%s"}],
                          "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
                        """.formatted(ACCESS_KEY, secretKey));
                Files.writeString(dir.resolve("secret"), secretKey);
                s3Port = Ports.free();
                for (int i = 0; i < 7; i++) {
                    otherPorts.add(Ports.free());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> command = List.of(binary.toString(), "server",
                "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=" + dir.resolve("data"),
                "-master.port=" + otherPorts.get(0), "-master.port.grpc=" + otherPorts.get(1),
                "-master.telemetry=false", "-master.volumeSizeLimitMB=64", "-volume.max=0",
                "-volume.port=" + otherPorts.get(2), "-volume.port.grpc=" + otherPorts.get(3),
                "-filer", "-filer.port=" + otherPorts.get(4), "-filer.port.grpc=" + otherPorts.get(5),
                "-filer.localSocket=" + dir.resolve("filer.sock"),
                "-s3", "-s3.port=" + s3Port, "-s3.port.grpc=" + otherPorts.get(6),
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.localSocket=" + dir.resolve("s3.sock"),
                "-s3.config=" + dir.resolve("s3.json"));
        process = ChildProcess.start(command, dir.resolve("weed.log"), Map.of(), dir);
        process.awaitReady("SeaweedFS S3", START_TIMEOUT, this::bucketReady);
    }

    private boolean bucketReady() {
        if (!Ports.accepting(s3Port)) {
            return false;
        }
        try {
            client().createBucket(b -> b.bucket(BUCKET));
        } catch (BucketAlreadyOwnedByYouException e) {
            // there from an earlier start
        } catch (RuntimeException e) {
            try {
                client().headBucket(b -> b.bucket(BUCKET));
            } catch (RuntimeException notYet) {
                return false;
            }
        }
        // The bucket answering is not the data path answering: after a restart SeaweedFS's gateway answers bucket
        // calls before its volume server has registered again, and an object request waits meanwhile. Ready means
        // an object can be written, read and deleted.
        String probe = "_ready/probe";
        try {
            client().putObject(b -> b.bucket(BUCKET).key(probe),
                    software.amazon.awssdk.core.sync.RequestBody.fromString("ready"));
            boolean read = client().getObjectAsBytes(b -> b.bucket(BUCKET).key(probe)).asUtf8String().equals("ready");
            client().deleteObject(b -> b.bucket(BUCKET).key(probe));
            return read;
        } catch (RuntimeException notYet) {
            return false;
        }
    }

    /** Stops SeaweedFS by its PID (SIGTERM, then SIGKILL); the data and ports stay for a later {@link #start}. */
    public synchronized void stop() {
        if (process != null) {
            process.stop(Duration.ofSeconds(10));
            process = null;
        }
    }

    /** Stops SeaweedFS and deletes its directory. */
    @Override
    public synchronized void close() {
        stop();
        if (client != null) {
            client.close();
            client = null;
        }
        if (dir != null) {
            deleteTree(dir);
            dir = null;
        }
    }

    /** Whether the process runs. */
    public synchronized boolean running() {
        return process != null && process.isAlive();
    }

    /** The S3 endpoint, {@code http://127.0.0.1:<port>}. */
    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + s3Port);
    }

    /** The bucket created at start. */
    public String bucket() {
        return BUCKET;
    }

    /** The access key of the one identity. */
    public String accessKey() {
        return ACCESS_KEY;
    }

    /** A file holding the identity's secret key (what {@code storage.s3.secretKeyFile} names). */
    public Path secretKeyFile() {
        return dir.resolve("secret");
    }

    /** The {@code storage.s3} YAML block (indented for under {@code storage:}) for this server and {@code prefix}. */
    public String storageYaml(String prefix, boolean redirect) {
        return "  s3:\n"
                + "    endpoint: " + endpoint() + "\n"
                + "    bucket: " + BUCKET + "\n"
                + "    region: us-east-1\n"
                + "    pathStyle: true\n"
                + "    prefix: \"" + prefix + "\"\n"
                + "    accessKey: " + ACCESS_KEY + "\n"
                + "    secretKeyFile: " + secretKeyFile() + "\n"
                + "    redirect: " + redirect + "\n";
    }

    /** A client of this server as the test's own eyes (path-style, the identity's credentials). */
    public synchronized S3Client client() {
        if (client == null) {
            client = S3Client.builder()
                    .endpointOverride(endpoint())
                    .region(Region.US_EAST_1)
                    .forcePathStyle(true)
                    .credentialsProvider(StaticCredentialsProvider.create(
                            AwsBasicCredentials.create(ACCESS_KEY, secretKey)))
                    .httpClient(UrlConnectionHttpClient.builder()
                            .connectionTimeout(Duration.ofSeconds(2))
                            .socketTimeout(Duration.ofSeconds(30)).build())
                    .build();
        }
        return client;
    }

    /** Every object key under {@code prefix} in the bucket, with its size. */
    public Map<String, Long> keys(String prefix) {
        Map<String, Long> out = new java.util.TreeMap<>();
        for (S3Object o : client().listObjectsV2Paginator(ListObjectsV2Request.builder()
                .bucket(BUCKET).prefix(prefix).build()).contents()) {
            out.put(o.key(), o.size());
        }
        return out;
    }

    /** The object's bytes, or null if there is none under {@code key}. */
    public byte[] get(String key) {
        try {
            return client().getObjectAsBytes(b -> b.bucket(BUCKET).key(key)).asByteArray();
        } catch (NoSuchKeyException e) {
            return null;
        }
    }

    /** The multipart uploads started and neither completed nor aborted, under {@code prefix}. */
    public List<MultipartUpload> incompleteUploads(String prefix) {
        return client().listMultipartUploads(b -> b.bucket(BUCKET).prefix(prefix)).uploads();
    }

    /** The last lines of SeaweedFS's log, for failure messages. */
    public String logTail(int lines) {
        return process == null ? "(not running)" : process.logTail(lines);
    }

    private static void deleteTree(Path root) {
        try (var walk = Files.walk(root)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a temp directory
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
