package dev.wharf.auth.access;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * wharf's own access tokens: short-lived JWTs signed with ES256 that say who ({@code sub}), for which service
 * ({@code aud}), until when ({@code exp}), and which repositories with which actions ({@code access}, as the Docker
 * token spec writes it). {@link #verify} accepts only what {@link #issue} makes: the ES256 algorithm (so never
 * {@code none}, never an HMAC keyed with the public key), a signature by this key, this issuer and audience, and a
 * time inside {@code nbf..exp} (with a small leeway for clocks).
 *
 * <p>Immutable and thread-safe. Errors never quote the token.
 */
public final class AccessTokens {
    /** The issuer wharf writes and expects ({@code iss}). */
    public static final String ISSUER = "wharf";
    /** Clock difference tolerated on {@code nbf} and {@code exp}. */
    private static final Duration LEEWAY = Duration.ofSeconds(30);
    /** Longest token read; a token with 64 scopes is a few KiB. */
    public static final int MAX_TOKEN = 16 * 1024;

    private final ECDSASigner signer;
    private final ECDSAVerifier verifier;
    private final String keyId;
    private final String audience;
    private final Duration ttl;
    private final Clock clock;

    /** What a valid token says. */
    public record Verified(Principal principal, List<Scope> access, Instant expires) {
        /** True if the token grants {@code action} on repository {@code name}. */
        public boolean grants(String name, String action) {
            return access.stream().anyMatch(s -> s.type().equals("repository") && s.name().equals(name)
                    && (s.actions().contains(action) || s.actions().contains("*")));
        }
    }

    /** A token that is not wharf's, not valid now, or not readable; the message names the reason only. */
    public static final class Refused extends Exception {
        public Refused(String reason) {
            super(reason, null, false, false);
        }
    }

    /** An issued token and how long it lives. */
    public record Issued(String token, Instant issuedAt, Duration expiresIn) {
        @Override
        public String toString() {
            return "Issued[token=***, issuedAt=" + issuedAt + ", expiresIn=" + expiresIn + "]";
        }
    }

    /**
     * @param audience the service name clients ask tokens for ({@code service=wharf})
     * @param ttl      how long an issued token lives
     */
    public AccessTokens(TokenKey key, String audience, Duration ttl, Clock clock) {
        try {
            this.signer = new ECDSASigner(key.privateKey());
            this.verifier = new ECDSAVerifier(key.publicKey());
            this.keyId = new ECKey.Builder(Curve.P_256, key.publicKey()).build().computeThumbprint().toString();
        } catch (JOSEException e) {
            throw new IllegalArgumentException("token key is not usable for ES256: " + e.getMessage());
        }
        this.audience = audience;
        this.ttl = ttl;
        this.clock = clock;
    }

    /** Signs a token for {@code who} granting {@code access} (already cut down to what {@code who} holds). */
    public Issued issue(Principal who, List<Scope> access) {
        Instant now = clock.instant();
        List<Object> claimAccess = new ArrayList<>();
        for (Scope s : access) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("type", s.type());
            entry.put("name", s.name());
            entry.put("actions", s.actions().stream().sorted().toList());
            claimAccess.add(entry);
        }
        JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder()
                .issuer(ISSUER)
                .audience(audience)
                .subject(who == null ? "" : who.name())
                .issueTime(Date.from(now))
                .notBeforeTime(Date.from(now))
                .expirationTime(Date.from(now.plus(ttl)))
                .jwtID(UUID.randomUUID().toString())
                .claim("access", claimAccess);
        if (who != null && !who.groups().isEmpty()) {
            claims.claim("groups", who.groups().stream().sorted().toList());
        }
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).type(JOSEObjectType.JWT)
                .keyID(keyId).build(), claims.build());
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new IllegalStateException("signing failed: " + e.getMessage(), e);
        }
        return new Issued(jwt.serialize(), now, ttl);
    }

    /** Checks a token; the principal is null for an anonymous token (one issued for public scopes only). */
    public Verified verify(String token) throws Refused {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN) {
            throw new Refused("no token, or one too long");
        }
        SignedJWT jwt;
        try {
            jwt = SignedJWT.parse(token);
        } catch (ParseException | RuntimeException e) {
            throw new Refused("not a signed JWT");
        }
        if (!JWSAlgorithm.ES256.equals(jwt.getHeader().getAlgorithm())) {
            throw new Refused("not signed with ES256");
        }
        try {
            if (!jwt.verify(verifier)) {
                throw new Refused("bad signature");
            }
        } catch (JOSEException | RuntimeException e) {
            throw new Refused("bad signature");
        }
        JWTClaimsSet c;
        try {
            c = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            throw new Refused("unreadable claims");
        }
        if (!ISSUER.equals(c.getIssuer())) {
            throw new Refused("wrong issuer");
        }
        if (c.getAudience() == null || !c.getAudience().contains(audience)) {
            throw new Refused("wrong audience");
        }
        Instant now = clock.instant();
        if (c.getExpirationTime() == null || now.isAfter(c.getExpirationTime().toInstant().plus(LEEWAY))) {
            throw new Refused("expired");
        }
        if (c.getNotBeforeTime() != null && now.isBefore(c.getNotBeforeTime().toInstant().minus(LEEWAY))) {
            throw new Refused("not valid yet");
        }
        List<Scope> access = new ArrayList<>();
        Set<String> groups = new HashSet<>();
        try {
            List<Object> list = c.getListClaim("access");
            if (list != null) {
                for (Object o : list) {
                    if (!(o instanceof Map<?, ?> m) || !(m.get("actions") instanceof List<?> actions)) {
                        throw new Refused("malformed access claim");
                    }
                    Set<String> acts = new HashSet<>();
                    actions.forEach(a -> acts.add(String.valueOf(a)));
                    access.add(new Scope(String.valueOf(m.get("type")), String.valueOf(m.get("name")), acts));
                }
            }
            List<String> g = c.getStringListClaim("groups");
            if (g != null) {
                groups.addAll(g);
            }
        } catch (ParseException e) {
            throw new Refused("malformed claims");
        }
        String sub = c.getSubject();
        Principal who = sub == null || sub.isEmpty() ? null : new Principal(sub, groups);
        return new Verified(who, List.copyOf(access), c.getExpirationTime().toInstant());
    }
}
