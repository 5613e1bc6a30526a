package dev.wharf.storage.s3;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/**
 * The bucket, through the AWS SDK v2's S3 client: every request the S3 tier makes goes through {@link #call}, which
 * times it ({@link S3Timer}), marks the bucket down or up ({@link BucketHealth}) and turns SDK failures into
 * IOExceptions. Keys come from {@link ObjectKeys} only. Thread-safe (the SDK client is).
 */
public final class S3Bucket implements AutoCloseable {
    /** Records one request: its operation name, whether it succeeded, how long it took. */
    @FunctionalInterface
    public interface S3Timer {
        void record(String operation, boolean ok, long nanos);
    }

    private final S3Settings settings;
    private final S3Client client;
    private final S3Presigner presigner;
    private final S3Timer timer;
    private final BucketHealth health;

    S3Bucket(S3Settings settings, S3Timer timer) {
        this.settings = settings;
        this.timer = timer;
        AwsCredentialsProvider credentials = settings.accessKey() == null
                ? DefaultCredentialsProvider.create()
                : StaticCredentialsProvider.create(AwsBasicCredentials.create(settings.accessKey(),
                        settings.secretKey()));
        var builder = S3Client.builder()
                .region(Region.of(settings.region()))
                .forcePathStyle(settings.pathStyle())
                .credentialsProvider(credentials)
                .httpClient(UrlConnectionHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(2))
                        .socketTimeout(Duration.ofSeconds(30)).build());
        var presign = S3Presigner.builder()
                .region(Region.of(settings.region()))
                .credentialsProvider(credentials)
                .serviceConfiguration(S3Configuration.builder().pathStyleAccessEnabled(settings.pathStyle()).build());
        if (settings.endpoint() != null) {
            builder.endpointOverride(settings.endpoint());
            presign.endpointOverride(settings.endpoint());
        }
        this.client = builder.build();
        this.presigner = presign.build();
        this.health = new BucketHealth(() -> client.headBucket(b -> b.bucket(settings.bucket())));
    }

    public BucketHealth health() {
        return health;
    }

    String name() {
        return settings.bucket();
    }

    /** The size of the object under {@code key}; empty if there is none. */
    Optional<Long> size(String key) throws IOException {
        return call("HeadObject", () -> {
            try {
                return Optional.of(client.headObject(b -> b.bucket(name()).key(key)).contentLength());
            } catch (NoSuchKeyException e) {
                return Optional.empty();
            } catch (S3Exception e) {
                if (e.statusCode() == 404) {
                    return Optional.empty();
                }
                throw e;
            }
        });
    }

    /** The object's body as a stream (the caller closes it); empty if there is none. */
    Optional<ResponseInputStream<GetObjectResponse>> open(String key) throws IOException {
        return call("GetObject", () -> {
            try {
                return Optional.of(client.getObject(b -> b.bucket(name()).key(key)));
            } catch (NoSuchKeyException e) {
                return Optional.empty();
            }
        });
    }

    /** A small object whole; empty if there is none; an IOException, unread, if over {@code maxBytes}. */
    Optional<byte[]> readSmall(String key, int maxBytes) throws IOException {
        Optional<ResponseInputStream<GetObjectResponse>> in = open(key);
        if (in.isEmpty()) {
            return Optional.empty();
        }
        try (InputStream body = in.get()) {
            Long length = in.get().response().contentLength();
            if (length != null && length > maxBytes) {
                in.get().abort();
                throw new IOException("object " + key + " is larger than " + maxBytes + " bytes");
            }
            byte[] bytes = body.readNBytes(maxBytes + 1);
            if (bytes.length > maxBytes) {
                throw new IOException("object " + key + " is larger than " + maxBytes + " bytes");
            }
            return Optional.of(bytes);
        }
    }

    void put(String key, byte[] content) throws IOException {
        call("PutObject", () -> client.putObject(b -> b.bucket(name()).key(key), RequestBody.fromBytes(content)));
    }

    void put(String key, ContentStreamProvider content, long length) throws IOException {
        call("PutObject", () -> client.putObject(b -> b.bucket(name()).key(key).contentLength(length),
                RequestBody.fromContentProvider(content, length, "application/octet-stream")));
    }

    /** Deletes the object; true if it existed (one HEAD first: S3's DELETE does not say). */
    boolean delete(String key) throws IOException {
        boolean existed = size(key).isPresent();
        call("DeleteObject", () -> client.deleteObject(b -> b.bucket(name()).key(key)));
        return existed;
    }

    /** Calls {@code action} with every object under {@code prefix}. */
    void list(String prefix, Consumer<S3Object> action) throws IOException {
        call("ListObjectsV2", () -> {
            client.listObjectsV2Paginator(ListObjectsV2Request.builder().bucket(name()).prefix(prefix).build())
                    .contents().forEach(action);
            return null;
        });
    }

    /** The names one level below {@code prefix} ("directories"), without the prefix or the trailing '/'. */
    List<String> children(String prefix) throws IOException {
        return call("ListObjectsV2", () -> client.listObjectsV2Paginator(ListObjectsV2Request.builder()
                        .bucket(name()).prefix(prefix).delimiter("/").build())
                .commonPrefixes().stream()
                .map(p -> p.prefix().substring(prefix.length(), p.prefix().length() - 1))
                .toList());
    }

    String createUpload(String key) throws IOException {
        return call("CreateMultipartUpload",
                () -> client.createMultipartUpload(b -> b.bucket(name()).key(key)).uploadId());
    }

    CompletedPart uploadPart(String key, String uploadId, int number, ContentStreamProvider content, long length)
            throws IOException {
        String etag = call("UploadPart", () -> client.uploadPart(b -> b.bucket(name()).key(key).uploadId(uploadId)
                        .partNumber(number).contentLength(length),
                RequestBody.fromContentProvider(content, length, "application/octet-stream")).eTag());
        return CompletedPart.builder().partNumber(number).eTag(etag).build();
    }

    void completeUpload(String key, String uploadId, List<CompletedPart> parts) throws IOException {
        call("CompleteMultipartUpload", () -> client.completeMultipartUpload(b -> b.bucket(name()).key(key)
                .uploadId(uploadId).multipartUpload(m -> m.parts(parts))));
    }

    void abortUpload(String key, String uploadId) throws IOException {
        call("AbortMultipartUpload",
                () -> client.abortMultipartUpload(b -> b.bucket(name()).key(key).uploadId(uploadId)));
    }

    /** A URL that GETs the object without credentials until {@code ttl} passes (for a 307). No request. */
    URI presign(String key, Duration ttl) {
        return URI.create(presigner.presignGetObject(p -> p.signatureDuration(ttl)
                .getObjectRequest(g -> g.bucket(name()).key(key))).url().toString());
    }

    private <T> T call(String operation, Supplier<T> request) throws IOException {
        if (!health.up()) {
            throw new IOException("S3 bucket " + name() + " is unreachable: " + health.lastError());
        }
        long start = System.nanoTime();
        boolean ok = false;
        try {
            T result = request.get();
            ok = true;
            health.succeeded();
            return result;
        } catch (S3Exception e) {
            if (e.statusCode() >= 500) {
                health.failed(e);
            }
            throw new IOException(operation + " " + name() + ": " + e.getMessage(), e);
        } catch (SdkClientException e) {
            health.failed(e);
            throw new IOException(operation + " " + name() + ": " + e.getMessage(), e);
        } finally {
            timer.record(operation, ok, System.nanoTime() - start);
        }
    }

    @Override
    public void close() {
        health.close();
        presigner.close();
        client.close();
    }
}
