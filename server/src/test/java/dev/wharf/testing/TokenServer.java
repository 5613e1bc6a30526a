package dev.wharf.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A token server of the distribution token spec, standing in for auth.docker.io, ghcr.io/token or quay.io/v2/auth
 * in front of a real {@code docker-registry} configured with {@code auth: token}. It answers
 * {@code GET <path>?service=...&scope=...} (with HTTP Basic, or anonymously) with a JWT signed RS256 by a
 * {@link TestCa}-issued signing certificate, whose chain goes in the JWT header's {@code x5c} (what distribution
 * 2.8 verifies against its {@code rootcertbundle}). The access granted per repository comes from a {@link Policy}.
 *
 * <p>distribution accepts a token until 60 s after its {@code exp} (its clock-skew leeway). To make a token really
 * die after {@link Builder#validFor}, {@code exp} is written that much earlier; {@link Builder#expiresIn} is what the
 * response tells the client, independently, so a test can make a token die sooner than the client expects.
 *
 * <p>Every token request is recorded ({@link #requests()}); thread-safe.
 */
public final class TokenServer implements AutoCloseable {
    /** distribution's leeway on {@code exp} and {@code nbf} (registry/auth/token/token.go). */
    public static final Duration REGISTRY_LEEWAY = Duration.ofSeconds(60);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Which of the requested actions on a repository a caller (null user: anonymous) is granted. */
    @FunctionalInterface
    public interface Policy {
        Set<String> grant(String user, String repository, Set<String> requested);

        /** Pull for anyone, anonymous included (ghcr.io and Docker Hub public images). */
        Policy ANONYMOUS_PULL = (user, repo, requested) -> requested.contains("pull") ? Set.of("pull") : Set.of();
        /** Pull for authenticated users only. */
        Policy USERS_PULL = (user, repo, requested) ->
                user != null && requested.contains("pull") ? Set.of("pull") : Set.of();
    }

    /** One token request as the server saw it. {@code user} is null for an anonymous request. */
    public record Request(Instant at, String path, String user, boolean authorization, String service,
            List<String> scopes, int status) {
    }

    private final Builder settings;
    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "token-server");
        t.setDaemon(true);
        return t;
    });
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    /** Settings; {@link #start()} last. */
    public static final class Builder {
        private final TestCa.Issued signer;
        private String issuer = "wharf-test-issuer";
        private String service = "wharf-test-registry";
        private String path = "/token";
        private String bindAddress = "127.0.0.1";
        private TestCa.Issued tls;
        private final Map<String, String> users = new LinkedHashMap<>();
        private Policy policy = Policy.USERS_PULL;
        private volatile Duration validFor = Duration.ofMinutes(5);
        private volatile long expiresIn = 300;

        private Builder(TestCa.Issued signer) {
            this.signer = signer;
        }

        public Builder issuer(String issuer) {
            this.issuer = issuer;
            return this;
        }

        public Builder service(String service) {
            this.service = service;
            return this;
        }

        /** The token endpoint's path (default {@code /token}; quay uses {@code /v2/auth}). */
        public Builder path(String path) {
            this.path = path;
            return this;
        }

        /** Listen address (default 127.0.0.1). */
        public Builder bind(String address) {
            this.bindAddress = address;
            return this;
        }

        /** Serve HTTPS with this certificate. */
        public Builder tls(TestCa.Issued certificate) {
            this.tls = certificate;
            return this;
        }

        public Builder user(String name, String password) {
            users.put(name, password);
            return this;
        }

        public Builder policy(Policy policy) {
            this.policy = policy;
            return this;
        }

        /** How long the registry will accept a token (default 5 min). */
        public Builder validFor(Duration d) {
            this.validFor = d;
            return this;
        }

        /** The {@code expires_in} the response states (seconds; 0 or less: omitted). Default 300. */
        public Builder expiresIn(long seconds) {
            this.expiresIn = seconds;
            return this;
        }

        public TokenServer start() {
            try {
                return new TokenServer(this);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Settings for a server signing with {@code signer} (from {@link TestCa#signer}). */
    public static Builder builder(TestCa.Issued signer) {
        return new Builder(signer);
    }

    private TokenServer(Builder settings) throws IOException {
        this.settings = settings;
        InetSocketAddress bind = new InetSocketAddress(InetAddress.getByName(settings.bindAddress), 0);
        if (settings.tls != null) {
            HttpsServer https = HttpsServer.create(bind, 50);
            https.setHttpsConfigurator(new HttpsConfigurator(settings.tls.serverContext()));
            server = https;
        } else {
            server = HttpServer.create(bind, 50);
        }
        server.createContext(settings.path, this::handle);
        server.setExecutor(executor);
        server.start();
    }

    /** The realm URL: {@code http(s)://<bind>:<port><path>}. */
    public URI realm() {
        return URI.create((settings.tls != null ? "https" : "http") + "://" + settings.bindAddress + ":" + port()
                + settings.path);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public String issuer() {
        return settings.issuer;
    }

    public String service() {
        return settings.service;
    }

    /** From now on, tokens are accepted by the registry for {@code d}. */
    public void validFor(Duration d) {
        settings.validFor = d;
    }

    /** All token requests so far, oldest first. */
    public List<Request> requests() {
        return List.copyOf(requests);
    }

    /** Token requests that named {@code scope} exactly. */
    public long requestsFor(String scope) {
        return requests.stream().filter(r -> r.scopes().contains(scope)).count();
    }

    /**
     * The {@code auth:} block of a registry config trusting this server ({@code rootcertbundle} is the CA), to go
     * into {@link DistributionRegistry.Builder#extraYaml}. {@code realm} is what the registry's challenges name.
     */
    public String registryAuthYaml(URI realm, java.nio.file.Path rootCertBundle) {
        return "auth:\n  token:\n    realm: \"" + realm + "\"\n    service: \"" + settings.service
                + "\"\n    issuer: \"" + settings.issuer + "\"\n    rootcertbundle: \"" + rootCertBundle + "\"\n";
    }

    /** A token for {@code subject} with exactly {@code access} (repository → actions), e.g. to seed by push. */
    public String mint(String subject, Map<String, List<String>> access, Duration validFor) {
        List<Map<String, Object>> list = new ArrayList<>();
        access.forEach((repo, actions) -> {
            Map<String, Object> a = new LinkedHashMap<>();
            a.put("type", "repository");
            a.put("name", repo);
            a.put("actions", actions);
            list.add(a);
        });
        return jwt(subject, list, validFor);
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            Map<String, List<String>> query = query(ex.getRequestURI().getRawQuery());
            String service = query.getOrDefault("service", List.of("")).get(0);
            List<String> scopes = new ArrayList<>();
            for (String s : query.getOrDefault("scope", List.of())) {
                for (String part : s.split(" ")) {
                    if (!part.isBlank()) {
                        scopes.add(part);
                    }
                }
            }
            String header = ex.getRequestHeaders().getFirst("Authorization");
            String user = null;
            if (header != null) {
                user = authenticate(header);
                if (user == null) {
                    requests.add(new Request(Instant.now(), ex.getRequestURI().getPath(), null, true, service, scopes,
                            401));
                    send(ex, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad credentials\"}]}");
                    return;
                }
            }
            if (!service.equals(settings.service)) {
                requests.add(new Request(Instant.now(), ex.getRequestURI().getPath(), user, header != null, service,
                        scopes, 400));
                send(ex, 400, "{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":\"unknown service\"}]}");
                return;
            }
            List<Map<String, Object>> access = new ArrayList<>();
            for (String scope : scopes) {
                // repository:<name>:<actions>; the name may not hold ':', the actions are comma-separated
                String[] parts = scope.split(":");
                if (parts.length != 3 || !parts[0].equals("repository")) {
                    continue;
                }
                Set<String> requested = new LinkedHashSet<>(List.of(parts[2].split(",")));
                Set<String> granted = settings.policy.grant(user, parts[1], requested);
                if (!granted.isEmpty()) {
                    Map<String, Object> a = new LinkedHashMap<>();
                    a.put("type", "repository");
                    a.put("name", parts[1]);
                    a.put("actions", List.copyOf(granted));
                    access.add(a);
                }
            }
            Instant now = Instant.now();
            String token = jwt(user == null ? "" : user, access, settings.validFor);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("token", token);
            body.put("access_token", token);
            if (settings.expiresIn > 0) {
                body.put("expires_in", settings.expiresIn);
            }
            body.put("issued_at", now.toString());
            requests.add(new Request(now, ex.getRequestURI().getPath(), user, header != null, service, scopes, 200));
            send(ex, 200, JSON.writeValueAsString(body));
        } catch (RuntimeException e) {
            // a broken test server must not hang the client
            try {
                send(ex, 500, "{}");
            } catch (IOException ignored) {
                // connection gone
            }
            throw e;
        }
    }

    private String authenticate(String header) {
        if (!header.regionMatches(true, 0, "Basic ", 0, 6)) {
            return null;
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(header.substring(6).trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            return null;
        }
        String name = decoded.substring(0, colon);
        String password = decoded.substring(colon + 1);
        return password.equals(settings.users.get(name)) ? name : null;
    }

    private String jwt(String subject, List<Map<String, Object>> access, Duration validFor) {
        try {
            long now = Instant.now().getEpochSecond();
            Map<String, Object> header = new LinkedHashMap<>();
            header.put("typ", "JWT");
            header.put("alg", "RS256");
            header.put("x5c", List.of(Base64.getEncoder().encodeToString(settings.signer.certificate().getEncoded())));
            Map<String, Object> claims = new LinkedHashMap<>();
            claims.put("iss", settings.issuer);
            claims.put("sub", subject);
            claims.put("aud", settings.service);
            claims.put("exp", now + validFor.toSeconds() - REGISTRY_LEEWAY.toSeconds());
            claims.put("nbf", now - 10);
            claims.put("iat", now);
            claims.put("jti", UUID.randomUUID().toString());
            claims.put("access", access);
            Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
            String signingInput = b64.encodeToString(JSON.writeValueAsBytes(header)) + "."
                    + b64.encodeToString(JSON.writeValueAsBytes(claims));
            Signature rsa = Signature.getInstance("SHA256withRSA");
            rsa.initSign(settings.signer.key());
            rsa.update(signingInput.getBytes(StandardCharsets.US_ASCII));
            return signingInput + "." + b64.encodeToString(rsa.sign());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign a token", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Map<String, List<String>> query(String raw) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        if (raw == null) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            out.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
        }
        return out;
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
