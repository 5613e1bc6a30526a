package dev.wharf.server.config;

import java.net.URI;

/**
 * AWS ECR token settings of a project ({@code projects[].ecr}). Present when configured, or implied (all fields
 * null but region) when the upstream host is {@code <account>.dkr.ecr.<region>.amazonaws.com} or
 * {@code public.ecr.aws} with credentials.
 *
 * @param region          AWS region; default: from the registry host
 * @param endpoint        ECR API endpoint override (VPC endpoints, tests), or null
 * @param accessKeyId     static key, or null for the SDK's default credential chain
 * @param secretAccessKey static secret, or null; never printed
 */
public record EcrConfig(String region, URI endpoint, String accessKeyId, String secretAccessKey) {
    /** True if one of {@code upstreams} is a private ECR host, which implies ECR credentials without a block. */
    public static boolean impliedBy(java.util.List<URI> upstreams) {
        return upstreams.stream().anyMatch(u -> dev.wharf.auth.upstream.EcrRegistryHost.parse(u.getHost())
                .map(h -> !h.isPublic()).orElse(false));
    }

    @Override
    public String toString() {
        return "EcrConfig[region=" + region + ", endpoint=" + endpoint + ", accessKeyId=" + accessKeyId
                + ", secretAccessKey=" + (secretAccessKey == null ? "none" : "***") + "]";
    }
}
