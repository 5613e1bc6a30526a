package dev.wharf.auth.upstream;

import java.net.ProxySelector;
import java.net.URI;

/**
 * How to call GetAuthorizationToken for one registry. {@link #toString()} hides the secret.
 *
 * @param isPublic        ECR Public ({@code ecr-public}) rather than private ECR ({@code ecr})
 * @param region          the API's region (ECR Public: always us-east-1)
 * @param endpoint        API endpoint override (VPC endpoints, tests), or null for the SDK's own
 * @param accessKeyId     static key, or null for the SDK's default credential chain (environment, profile, web
 *                        identity/IRSA, EKS Pod Identity and container credentials, IMDSv2)
 * @param secretAccessKey static secret, given with {@code accessKeyId}, else null
 * @param proxy           the way out for the API calls (wharf's egress proxy, same as registry traffic), or null
 *                        to connect directly
 */
public record EcrAccess(boolean isPublic, String region, URI endpoint, String accessKeyId, String secretAccessKey,
                        ProxySelector proxy) {
    public EcrAccess {
        if (region == null || region.isBlank()) {
            throw new IllegalArgumentException("an ECR region is required");
        }
        if ((accessKeyId == null) != (secretAccessKey == null)) {
            throw new IllegalArgumentException("accessKeyId and secretAccessKey go together");
        }
    }

    @Override
    public String toString() {
        return "EcrAccess[" + (isPublic ? "ecr-public" : "ecr") + ", region=" + region + ", endpoint=" + endpoint
                + ", credentials=" + (accessKeyId == null ? "default chain" : "static key " + accessKeyId)
                + (proxy == null ? "" : ", via proxy") + "]";
    }
}
