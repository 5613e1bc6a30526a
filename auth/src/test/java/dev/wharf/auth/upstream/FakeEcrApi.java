package dev.wharf.auth.upstream;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A fake of the ECR and ECR Public GetAuthorizationToken API on 127.0.0.1 (JDK HttpServer), shared with the server
 * module's tests through this module's test jar. It is a fake because no
 * real AWS endpoint is reachable from the tests; the AWS SDK is pointed at it with its endpoint override. It checks
 * what the SDK sends (a SigV4 Authorization header for the expected key, region and service; the JSON-protocol
 * X-Amz-Target) and answers with a token per call: password {@code <prefix>-<n>} for the n-th call.
 */
public final class FakeEcrApi implements AutoCloseable {
    public static final String ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
    public static final String ECR_PUBLIC_TARGET = "SpencerFrontendService.GetAuthorizationToken";
    /** {@code AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request, SignedHeaders=..., Signature=<hex>}. */
    public static final Pattern SIGV4 = Pattern.compile("AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)/(\\d{8})/([a-z0-9-]+)/"
            + "([a-z-]+)/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})");

    /** One request as seen, with what was wrong with it (empty when it was right). */
    public record Call(String authorization, String target, String contentType, String problem, Instant at) {
    }

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();
    public final List<Call> calls = new CopyOnWriteArrayList<>();
    private final boolean isPublic;
    private final String keyId;
    private final String region;
    private final String passwordPrefix;
    /** expiresAt of the n-th token (1-based). */
    private volatile IntFunction<Instant> expiresAt = n -> Instant.now().plusSeconds(12 * 3600);
    /** When set, the n-th call answers with this HTTP status instead (0: answer normally). */
    private volatile IntFunction<Integer> failWith = n -> 0;

    public FakeEcrApi(boolean isPublic, String keyId, String region, String passwordPrefix) throws IOException {
        this.isPublic = isPublic;
        this.keyId = keyId;
        this.region = region;
        this.passwordPrefix = passwordPrefix;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    public void expiresAt(IntFunction<Instant> f) {
        this.expiresAt = f;
    }

    public void failWith(IntFunction<Integer> f) {
        this.failWith = f;
    }

    public int count() {
        return calls.size();
    }

    public String password(int n) {
        return passwordPrefix + "-" + n;
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            ex.getRequestBody().readAllBytes();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            String target = ex.getRequestHeaders().getFirst("X-Amz-Target");
            String type = ex.getRequestHeaders().getFirst("Content-Type");
            StringBuilder problem = new StringBuilder();
            Matcher m = auth == null ? null : SIGV4.matcher(auth);
            String service = isPublic ? "ecr-public" : "ecr";
            if (m == null || !m.matches()) {
                problem.append("Authorization is not SigV4: ").append(auth).append("; ");
            } else {
                if (!m.group(1).equals(keyId)) {
                    problem.append("key ").append(m.group(1)).append(" is not ").append(keyId).append("; ");
                }
                if (!m.group(3).equals(region)) {
                    problem.append("region ").append(m.group(3)).append(" is not ").append(region).append("; ");
                }
                if (!m.group(4).equals(service)) {
                    problem.append("service ").append(m.group(4)).append(" is not ").append(service).append("; ");
                }
                if (!m.group(5).contains("x-amz-target") || !m.group(5).contains("host")) {
                    problem.append("SignedHeaders ").append(m.group(5)).append(" lacks host or x-amz-target; ");
                }
            }
            String expectedTarget = isPublic ? ECR_PUBLIC_TARGET : ECR_TARGET;
            if (!expectedTarget.equals(target)) {
                problem.append("X-Amz-Target ").append(target).append(" is not ").append(expectedTarget).append("; ");
            }
            calls.add(new Call(auth, target, type, problem.toString(), Instant.now()));
            int n = calls.size();
            int status = failWith.apply(n);
            if (status != 0) {
                byte[] body = "{\"__type\":\"ServerException\",\"message\":\"fake failure\"}"
                        .getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "application/x-amz-json-1.1");
                ex.sendResponseHeaders(status, body.length);
                ex.getResponseBody().write(body);
                return;
            }
            String token = Base64.getEncoder().encodeToString(("AWS:" + password(n)).getBytes(StandardCharsets.UTF_8));
            double expires = expiresAt.apply(n).toEpochMilli() / 1000.0;
            String data = "{\"authorizationToken\":\"" + token + "\",\"expiresAt\":" + expires
                    + (isPublic ? "" : ",\"proxyEndpoint\":\"https://123456789012.dkr.ecr." + region
                            + ".amazonaws.com\"") + "}";
            byte[] body = ("{\"authorizationData\":" + (isPublic ? data : "[" + data + "]") + "}")
                    .getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/x-amz-json-1.1");
            ex.getResponseHeaders().set("x-amzn-RequestId", "fake-" + n);
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
