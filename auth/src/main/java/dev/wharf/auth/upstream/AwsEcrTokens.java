package dev.wharf.auth.upstream;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ecr.EcrClient;
import software.amazon.awssdk.services.ecr.EcrClientBuilder;
import software.amazon.awssdk.services.ecr.model.AuthorizationData;
import software.amazon.awssdk.services.ecr.model.GetAuthorizationTokenResponse;
import software.amazon.awssdk.services.ecrpublic.EcrPublicClient;
import software.amazon.awssdk.services.ecrpublic.EcrPublicClientBuilder;
import software.amazon.awssdk.utils.SdkAutoCloseable;

/**
 * GetAuthorizationToken through the AWS SDK for Java v2: {@code ecr} for private registries, {@code ecr-public} for
 * public.ecr.aws. The only class in wharf that names SDK types; {@link EcrCredentials#create} loads it on demand.
 *
 * <p>Credentials: static keys when configured, else the SDK's default chain (system properties, environment,
 * web identity token file for IRSA, profile, container credentials for EKS Pod Identity and ECS, IMDSv2). HTTP goes
 * through the JDK's HttpURLConnection ({@code url-connection-client}): one call every few hours needs no pool. The
 * API calls take wharf's egress proxy when it has one, chosen per URL as for registry traffic.
 *
 * <p>Thread-safety: the SDK clients are thread-safe; {@link EcrCredentials} calls {@link #fetch} from one thread.
 */
final class AwsEcrTokens implements EcrCredentials.TokenFetcher {
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration SOCKET_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(90);

    private final EcrAccess access;
    private final AwsCredentialsProvider credentials;
    private final SdkHttpClient http;
    private final EcrClient ecr;
    private final EcrPublicClient ecrPublic;

    AwsEcrTokens(EcrAccess access) {
        this.access = access;
        this.credentials = access.accessKeyId() != null
                ? StaticCredentialsProvider.create(AwsBasicCredentials.create(access.accessKeyId(),
                        access.secretAccessKey()))
                : DefaultCredentialsProvider.builder().build();
        this.http = UrlConnectionHttpClient.create(uri -> open(uri, access.proxy()));
        if (access.isPublic()) {
            EcrPublicClientBuilder b = EcrPublicClient.builder()
                    .region(Region.of(access.region()))
                    .credentialsProvider(credentials)
                    .httpClient(http)
                    .overrideConfiguration(o -> o.apiCallTimeout(CALL_TIMEOUT));
            if (access.endpoint() != null) {
                b.endpointOverride(access.endpoint());
            }
            this.ecrPublic = b.build();
            this.ecr = null;
        } else {
            EcrClientBuilder b = EcrClient.builder()
                    .region(Region.of(access.region()))
                    .credentialsProvider(credentials)
                    .httpClient(http)
                    .overrideConfiguration(o -> o.apiCallTimeout(CALL_TIMEOUT));
            if (access.endpoint() != null) {
                b.endpointOverride(access.endpoint());
            }
            this.ecr = b.build();
            this.ecrPublic = null;
        }
    }

    @Override
    public EcrCredentials.Token fetch() throws IOException {
        String api = access.isPublic() ? "ecr-public" : "ecr";
        try {
            if (ecrPublic != null) {
                var data = ecrPublic.getAuthorizationToken(b -> { }).authorizationData();
                if (data == null || data.authorizationToken() == null || data.expiresAt() == null) {
                    throw new IOException(api + " GetAuthorizationToken returned no authorization data");
                }
                return new EcrCredentials.Token(decode(data.authorizationToken(), api), data.expiresAt());
            }
            GetAuthorizationTokenResponse r = ecr.getAuthorizationToken(b -> { });
            if (!r.hasAuthorizationData() || r.authorizationData().isEmpty()) {
                throw new IOException(api + " GetAuthorizationToken returned no authorization data");
            }
            AuthorizationData data = r.authorizationData().get(0);
            if (data.authorizationToken() == null || data.expiresAt() == null) {
                throw new IOException(api + " GetAuthorizationToken returned no token or no expiresAt");
            }
            return new EcrCredentials.Token(decode(data.authorizationToken(), api), data.expiresAt());
        } catch (SdkException e) {
            // SDK messages name the service, status and request id; never a key or a token.
            throw new IOException(api + " GetAuthorizationToken in " + access.region() + " failed: "
                    + e.getMessage(), e);
        }
    }

    /** A connection through {@code proxy}'s choice for {@code uri} (direct when null), with wharf's timeouts. */
    private static HttpURLConnection open(URI uri, ProxySelector proxy) {
        Proxy way = Proxy.NO_PROXY;
        if (proxy != null) {
            List<Proxy> choice = proxy.select(uri);
            if (choice != null && !choice.isEmpty()) {
                way = choice.get(0);
            }
        }
        try {
            HttpURLConnection c = (HttpURLConnection) uri.toURL().openConnection(way);
            c.setConnectTimeout((int) CONNECT_TIMEOUT.toMillis());
            c.setReadTimeout((int) SOCKET_TIMEOUT.toMillis());
            return c;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open a connection to " + uri.getHost(), e);
        }
    }

    /** The token is base64 of {@code AWS:<password>}. */
    static Credentials decode(String token, String api) throws IOException {
        String plain;
        try {
            plain = new String(Base64.getDecoder().decode(token.trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new IOException(api + " returned an authorization token that is not base64");
        }
        int colon = plain.indexOf(':');
        if (colon <= 0 || colon == plain.length() - 1) {
            throw new IOException(api + " returned an authorization token that is not user:password");
        }
        return new Credentials(plain.substring(0, colon), plain.substring(colon + 1));
    }

    @Override
    public void close() {
        if (ecr != null) {
            ecr.close();
        }
        if (ecrPublic != null) {
            ecrPublic.close();
        }
        http.close();
        if (credentials instanceof SdkAutoCloseable c) {
            c.close();
        }
    }
}
