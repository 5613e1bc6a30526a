package dev.wharf.auth.access;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.net.URI;
import java.net.http.HttpClient;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Verifies OIDC ID tokens from one issuer for one client, as wharf's token endpoint takes them for a password.
 *
 * <p>The keys come from the issuer's discovery document ({@code <issuer>/.well-known/openid-configuration}, whose
 * {@code issuer} must equal the configured one) and its {@code jwks_uri}. They are cached; a token with an unknown
 * {@code kid} fetches them again, at most once per {@link #MIN_FETCH_GAP}, and so does a token verified more than
 * {@link #MAX_KEY_AGE} after the last fetch. Accepted: RS256 and ES256 signatures by a key of the set, whose
 * {@code alg} and {@code use} (when given) agree. Refused: unsigned ({@code alg: none}), HMAC and encrypted tokens,
 * any other algorithm, a wrong {@code iss}, an {@code aud} without the client id (or several audiences and an
 * {@code azp} other than the client id), and {@code exp}, {@code nbf} or {@code iat} out of range by more than
 * {@link #CLOCK_SKEW}.
 *
 * <p>Thread-safety: any thread may call {@link #verify}; the discovery and key fetches run under this object's lock,
 * so threads that miss the same key make one fetch, and the fetched state is published through a volatile field.
 * {@link #verify} blocks on the network when it fetches (at most {@link IssuerClient#TIMEOUT} per request): call it
 * off an event loop.
 */
public final class OidcIdTokens {
    /** How far {@code exp}, {@code nbf} and {@code iat} may be off the local clock. */
    public static final Duration CLOCK_SKEW = Duration.ofSeconds(60);
    /** The least time between two fetches of the provider's keys (or attempts, when they fail). */
    public static final Duration MIN_FETCH_GAP = Duration.ofSeconds(30);
    /** Keys older than this are fetched again before the next verification, so a withdrawn key stops working. */
    public static final Duration MAX_KEY_AGE = Duration.ofHours(1);
    /** The longest token read; real ID tokens are one or two KiB. */
    public static final int MAX_TOKEN_LENGTH = 16 * 1024;
    /** The most groups taken from a token; the rest are ignored. */
    static final int MAX_GROUPS = 1024;
    private static final int MAX_NAME_LENGTH = 256;
    private static final Set<JWSAlgorithm> ALGORITHMS = Set.of(JWSAlgorithm.RS256, JWSAlgorithm.ES256);
    private static final Logger LOG = LoggerFactory.getLogger(OidcIdTokens.class);

    private final IssuerClient provider;
    private final String clientId;
    private final String groupsClaim;
    private final Clock clock;
    /** Keys given at construction, never fetched (the fuzz test's seam); null in real use. */
    private final Keys fixedKeys;
    private final Object fetchLock = new Object();
    private volatile Keys keys;
    /** When the last fetch started, successful or not; guarded by fetchLock. */
    private Instant lastAttempt;
    /** Why the last fetch failed, while no keys were ever fetched; guarded by fetchLock. */
    private OidcTokenException lastFailure;

    /** The keys of the set and when they were fetched. */
    private record Keys(List<JWK> keys, Instant fetched) {
    }

    /** Uses a JDK HttpClient that follows no redirects, and the system clock. */
    public OidcIdTokens(URI issuer, String clientId, String groupsClaim) {
        this(issuer, clientId, groupsClaim, IssuerClient.defaultHttp(), Clock.systemUTC());
    }

    /**
     * @param issuer      the issuer exactly as its tokens and discovery document name it; https, or http on loopback
     * @param clientId    wharf's client id at the provider: the audience its tokens must carry
     * @param groupsClaim the claim that lists the user's groups (e.g. {@code groups}); null for none
     * @param http        the client for discovery and keys (give it an SSLContext for a private CA); it should not
     *                    follow redirects
     * @param clock       the time tokens are checked against, and fetches are spaced by
     * @throws IllegalArgumentException for an issuer that is not https (or http on loopback), or a blank client id
     */
    public OidcIdTokens(URI issuer, String clientId, String groupsClaim, HttpClient http, Clock clock) {
        this.provider = new IssuerClient(issuer, Objects.requireNonNull(http, "http"));
        if (clientId == null || clientId.isBlank()) {
            throw new IllegalArgumentException("the OIDC client id must not be blank");
        }
        this.clientId = clientId;
        this.groupsClaim = groupsClaim == null || groupsClaim.isBlank() ? null : groupsClaim;
        this.clock = Objects.requireNonNull(clock, "clock");
        this.fixedKeys = null;
    }

    /** A verifier with these keys and no network at all: for the fuzz test, which must not fetch. */
    OidcIdTokens(URI issuer, String clientId, String groupsClaim, JWKSet keys, Clock clock) {
        this.provider = new IssuerClient(issuer, IssuerClient.defaultHttp());
        this.clientId = clientId;
        this.groupsClaim = groupsClaim;
        this.clock = clock;
        this.fixedKeys = new Keys(List.copyOf(keys.getKeys()), clock.instant());
        this.keys = fixedKeys;
    }

    /** The issuer tokens must come from. */
    public URI issuer() {
        return provider.issuer();
    }

    /** The client id tokens must be issued to. */
    public String clientId() {
        return clientId;
    }

    /**
     * Verifies {@code idToken} and says whom it names. The username is the first of {@code preferred_username},
     * {@code email} and {@code sub} that is a usable user name: 1 to 256 characters, no ':' (it could not travel in
     * Basic credentials), no white space or control characters. {@code preferred_username} is whatever the provider
     * lets a user choose: grant pull rights by name only where the provider guards names, and by group otherwise.
     *
     * @throws OidcTokenException {@link OidcTokenException.Kind#REFUSED} when the token is not acceptable,
     *                            {@link OidcTokenException.Kind#PROVIDER_UNAVAILABLE} when the provider's keys could
     *                            not be had; the message never holds the token
     */
    public OidcIdentity verify(String idToken) throws OidcTokenException {
        SignedJWT jwt = parse(idToken);
        JWSHeader header = jwt.getHeader();
        JWSAlgorithm alg = header.getAlgorithm();
        if (!ALGORITHMS.contains(alg)) {
            throw OidcTokenException.refused("the ID token is signed with " + alg.getName()
                    + "; wharf accepts RS256 and ES256 only");
        }
        if (header.getCriticalParams() != null && !header.getCriticalParams().isEmpty()) {
            throw OidcTokenException.refused("the ID token's header has critical parameters wharf does not know");
        }
        JWK key = key(header);
        if (!verifies(jwt, key)) {
            throw OidcTokenException.refused("the ID token's signature does not verify with the key "
                    + describe(header) + " of " + provider.issuer());
        }
        JWTClaimsSet claims;
        try {
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            throw OidcTokenException.refused("the ID token's claims are not a JSON object");
        }
        checkClaims(claims);
        String subject = claims.getSubject();
        return new OidcIdentity(subject, username(claims, subject), groups(claims));
    }

    private static SignedJWT parse(String idToken) throws OidcTokenException {
        if (idToken == null || idToken.isEmpty()) {
            throw OidcTokenException.refused("no ID token");
        }
        if (idToken.length() > MAX_TOKEN_LENGTH) {
            throw OidcTokenException.refused("the ID token is longer than " + MAX_TOKEN_LENGTH + " characters");
        }
        int dots = 0;
        for (int i = 0; i < idToken.length(); i++) {
            char c = idToken.charAt(i);
            if (c == '.') {
                dots++;
            } else if (!(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
                    || c == '_' || c == '=')) {
                throw OidcTokenException.refused("the ID token is not a compact JWS (base64url parts)");
            }
        }
        if (dots != 2) {
            throw OidcTokenException.refused(dots == 4 ? "the ID token is encrypted (JWE); wharf takes signed ID "
                    + "tokens only" : "the ID token is not a compact JWS (three parts)");
        }
        if (idToken.endsWith(".")) {
            throw OidcTokenException.refused("the ID token is not signed (alg: none is never accepted)");
        }
        try {
            return SignedJWT.parse(idToken);
        } catch (ParseException | RuntimeException e) {
            // Nimbus's message may quote the header: never pass it on.
            String why = idToken.startsWith("eyJ") ? "its header is not a JWS header of a known algorithm"
                    : "its header is not base64url-encoded JSON";
            if (isUnsignedHeader(idToken)) {
                why = "it is not signed (alg: none is never accepted)";
            }
            throw OidcTokenException.refused("the ID token is not a signed JWT: " + why);
        }
    }

    private static boolean isUnsignedHeader(String idToken) {
        try {
            String header = new String(java.util.Base64.getUrlDecoder().decode(
                    idToken.substring(0, idToken.indexOf('.')).replace("=", "")), java.nio.charset.StandardCharsets.UTF_8);
            return header.replace(" ", "").contains("\"alg\":\"none\"");
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** The key named by the header's kid (fetching the set again when it is unknown), of the header's type. */
    private JWK key(JWSHeader header) throws OidcTokenException {
        Keys current = currentKeys();
        JWK key = pick(current, header);
        if (key == null) {
            Keys refreshed = refetch(current, "unknown key " + describe(header));
            key = refreshed == current ? null : pick(refreshed, header);
        }
        if (key == null) {
            throw OidcTokenException.refused("the ID token names the key " + describe(header)
                    + ", which is not in the key set of " + provider.issuer());
        }
        return key;
    }

    private static String describe(JWSHeader header) {
        String kid = header.getKeyID();
        return kid == null ? "(no kid, " + header.getAlgorithm().getName() + ")"
                : "'" + IssuerClient.abbreviate(kid) + "' (" + header.getAlgorithm().getName() + ")";
    }

    /**
     * The signing key for {@code header}: the key with its kid, or, when the header has none, the only key of the
     * set that fits the algorithm. A key's own {@code alg} and {@code use}, when given, must agree.
     */
    private static JWK pick(Keys keys, JWSHeader header) {
        String kid = header.getKeyID();
        List<JWK> fits = new ArrayList<>();
        for (JWK k : keys.keys()) {
            if (kid != null && !kid.equals(k.getKeyID())) {
                continue;
            }
            if (k.getKeyUse() != null && !KeyUse.SIGNATURE.equals(k.getKeyUse())) {
                continue;
            }
            if (k.getAlgorithm() != null && !k.getAlgorithm().equals(header.getAlgorithm())) {
                continue;
            }
            boolean typeFits = header.getAlgorithm().equals(JWSAlgorithm.RS256) ? k instanceof RSAKey
                    : k instanceof ECKey ec && Curve.P_256.equals(ec.getCurve());
            if (typeFits) {
                fits.add(k);
            }
        }
        return fits.size() == 1 ? fits.get(0) : null;
    }

    private static boolean verifies(SignedJWT jwt, JWK key) throws OidcTokenException {
        try {
            JWSVerifier verifier;
            if (key instanceof RSAKey rsa) {
                if (rsa.size() < 2048) {
                    throw OidcTokenException.refused("the provider's RSA key " + IssuerClient.abbreviate(
                            String.valueOf(key.getKeyID())) + " has fewer than 2048 bits");
                }
                verifier = new RSASSAVerifier(rsa);
            } else {
                verifier = new ECDSAVerifier((ECKey) key);
            }
            return jwt.verify(verifier);
        } catch (JOSEException | IllegalStateException e) {
            return false;
        }
    }

    private void checkClaims(JWTClaimsSet claims) throws OidcTokenException {
        String iss = claims.getIssuer();
        if (!provider.issuer().toString().equals(iss)) {
            throw OidcTokenException.refused("the ID token's issuer '" + (iss == null ? "" : IssuerClient.abbreviate(iss))
                    + "' is not " + provider.issuer());
        }
        List<String> aud = claims.getAudience();
        if (aud == null || !aud.contains(clientId)) {
            throw OidcTokenException.refused("the ID token is not for this client: its audience does not hold '"
                    + clientId + "'");
        }
        Object azp = claims.getClaim("azp");
        if (azp != null && !clientId.equals(azp)) {
            throw OidcTokenException.refused("the ID token was issued to another client (azp)");
        }
        if (aud.size() > 1 && azp == null) {
            throw OidcTokenException.refused("the ID token has several audiences and no azp naming this client");
        }
        Instant now = clock.instant();
        Date exp = claims.getExpirationTime();
        if (exp == null) {
            throw OidcTokenException.refused("the ID token has no expiry (exp)");
        }
        if (!now.isBefore(exp.toInstant().plus(CLOCK_SKEW))) {
            throw OidcTokenException.refused("the ID token expired at " + exp.toInstant());
        }
        Date nbf = claims.getNotBeforeTime();
        if (nbf != null && now.isBefore(nbf.toInstant().minus(CLOCK_SKEW))) {
            throw OidcTokenException.refused("the ID token is not valid before " + nbf.toInstant());
        }
        Date iat = claims.getIssueTime();
        if (iat == null) {
            throw OidcTokenException.refused("the ID token has no issue time (iat)");
        }
        if (iat.toInstant().isAfter(now.plus(CLOCK_SKEW))) {
            throw OidcTokenException.refused("the ID token was issued in the future (" + iat.toInstant() + ")");
        }
        String sub = claims.getSubject();
        if (sub == null || sub.isEmpty() || sub.length() > MAX_NAME_LENGTH) {
            throw OidcTokenException.refused("the ID token has no usable subject (sub)");
        }
    }

    private static String username(JWTClaimsSet claims, String subject) throws OidcTokenException {
        for (String claim : List.of("preferred_username", "email")) {
            Object v = claims.getClaim(claim);
            if (v instanceof String s && usableName(s)) {
                return s;
            }
        }
        if (usableName(subject)) {
            return subject;
        }
        throw OidcTokenException.refused("the ID token names no usable user name (preferred_username, email or "
                + "sub without ':', spaces or control characters)");
    }

    static boolean usableName(String s) {
        if (s.isEmpty() || s.length() > MAX_NAME_LENGTH) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == ':' || Character.isWhitespace(c) || Character.isISOControl(c) || Character.isSpaceChar(c)) {
                return false;
            }
        }
        return true;
    }

    private Set<String> groups(JWTClaimsSet claims) {
        if (groupsClaim == null) {
            return Set.of();
        }
        Object v = claims.getClaim(groupsClaim);
        Set<String> out = new LinkedHashSet<>();
        if (v instanceof String s) {
            if (!s.isEmpty() && s.length() <= MAX_NAME_LENGTH) {
                out.add(s);
            }
        } else if (v instanceof List<?> list) {
            for (Object o : list) {
                if (out.size() >= MAX_GROUPS) {
                    break;
                }
                if (o instanceof String s && !s.isEmpty() && s.length() <= MAX_NAME_LENGTH) {
                    out.add(s);
                }
            }
        }
        return out;
    }

    /** The cached keys, fetching them first when there are none yet or they are older than {@link #MAX_KEY_AGE}. */
    private Keys currentKeys() throws OidcTokenException {
        if (fixedKeys != null) {
            return fixedKeys;
        }
        Keys k = keys;
        if (k != null && k.fetched().plus(MAX_KEY_AGE).isAfter(clock.instant())) {
            return k;
        }
        synchronized (fetchLock) {
            k = keys;
            if (k != null && k.fetched().plus(MAX_KEY_AGE).isAfter(clock.instant())) {
                return k;
            }
            if (k != null && !mayFetch()) {
                return k;
            }
            if (k == null && !mayFetch()) {
                throw lastFailure != null ? copy(lastFailure) : IssuerClient.unavailable("the keys of "
                        + provider.issuer() + " are being fetched", null);
            }
            return fetch(k, k == null ? "first use" : "keys older than " + MAX_KEY_AGE.toMinutes() + " min");
        }
    }

    /** Fetches the keys again for an unknown kid, unless a fetch started less than {@link #MIN_FETCH_GAP} ago. */
    private Keys refetch(Keys seen, String why) throws OidcTokenException {
        if (fixedKeys != null) {
            return seen;
        }
        synchronized (fetchLock) {
            Keys k = keys;
            if (k != seen) {
                return k; // another thread fetched meanwhile
            }
            if (!mayFetch()) {
                return k;
            }
            return fetch(k, why);
        }
    }

    private boolean mayFetch() {
        return lastAttempt == null || !clock.instant().isBefore(lastAttempt.plus(MIN_FETCH_GAP));
    }

    /** Discovery, then the key set; on failure the old keys (if any) stay in use. Caller holds fetchLock. */
    private Keys fetch(Keys old, String why) throws OidcTokenException {
        lastAttempt = clock.instant();
        try {
            JsonNode doc = provider.discovery();
            URI jwksUri = provider.checkEndpoint("jwks_uri", doc.path("jwks_uri").asText(null));
            JsonNode set = provider.getJson(jwksUri);
            List<JWK> parsed;
            try {
                parsed = JWKSet.parse(set.toString()).getKeys();
            } catch (ParseException e) {
                throw IssuerClient.unavailable("the key set at " + jwksUri + " is not a JWK set", null);
            }
            List<JWK> usable = new ArrayList<>();
            for (JWK k : parsed) {
                if ((k instanceof RSAKey || k instanceof ECKey) && !k.isPrivate()) {
                    usable.add(k);
                }
            }
            Keys fresh = new Keys(List.copyOf(usable), lastAttempt);
            keys = fresh;
            lastFailure = null;
            LOG.info("OIDC: fetched {} signing keys of {} from {} ({})", usable.size(), provider.issuer(), jwksUri,
                    why);
            return fresh;
        } catch (OidcTokenException e) {
            LOG.warn("OIDC: could not fetch the keys of {} ({}): {}", provider.issuer(), why, e.getMessage());
            if (old != null) {
                return old;
            }
            lastFailure = e;
            throw e;
        }
    }

    private static OidcTokenException copy(OidcTokenException e) {
        return new OidcTokenException(e.kind(), e.getMessage() + " (the last attempt; the next one comes at most "
                + "every " + MIN_FETCH_GAP.toSeconds() + " s)", e.getCause());
    }
}
