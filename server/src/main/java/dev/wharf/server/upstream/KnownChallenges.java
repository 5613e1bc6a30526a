package dev.wharf.server.upstream;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.wharf.auth.upstream.Challenge;

/**
 * The last challenge each (upstream endpoint, repository) answered with, so later exchanges can send a token (or
 * Basic) up front and save the 401 round trip. Shared by all exchanges of a client; a bounded Caffeine cache, so
 * thread-safe, and a lost or stale entry costs one 401, nothing more. Only challenges from the endpoint's own
 * origin are remembered: a redirect target's challenge says nothing about the upstream.
 */
final class KnownChallenges {
    private static final int MAX_REMEMBERED_CHALLENGES = 10_000;

    private final Cache<Key, Challenge> challenges = Caffeine.newBuilder().maximumSize(MAX_REMEMBERED_CHALLENGES)
            .build();

    Challenge get(UpstreamEndpoint endpoint, String repository) {
        return challenges.getIfPresent(Key.of(endpoint, repository));
    }

    void remember(UpstreamEndpoint endpoint, String repository, Challenge challenge) {
        challenges.put(Key.of(endpoint, repository), challenge);
    }

    /**
     * Where a challenge was seen: the endpoint (origin and path, since one Harbor host serves several proxy
     * projects whose scopes differ) and the repository.
     */
    private record Key(String endpoint, String repository) {
        static Key of(UpstreamEndpoint endpoint, String repository) {
            String path = endpoint.base().getRawPath() == null ? "" : endpoint.base().getRawPath();
            return new Key(UpstreamUrls.origin(endpoint.base()) + path, repository);
        }
    }
}
