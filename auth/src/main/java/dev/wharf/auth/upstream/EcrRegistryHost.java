package dev.wharf.auth.upstream;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An AWS ECR registry host name: private {@code <account>.dkr.ecr.<region>.amazonaws.com} (also {@code ecr-fips},
 * China's {@code .amazonaws.com.cn} and dual-stack {@code <account>.dkr-ecr.<region>.on.aws}), or ECR Public's
 * {@code public.ecr.aws}. Knows nothing of the AWS SDK.
 *
 * @param account  the 12-digit account, or null for ECR Public
 * @param region   the region the host names; for ECR Public the one region its API lives in
 * @param isPublic true for {@code public.ecr.aws}
 */
public record EcrRegistryHost(String account, String region, boolean isPublic) {
    public static final String PUBLIC_HOST = "public.ecr.aws";
    /** ECR Public's API (ecr-public) exists only in us-east-1, whatever region the client runs in. */
    public static final String PUBLIC_API_REGION = "us-east-1";

    private static final Pattern PRIVATE = Pattern.compile(
            "(\\d{12})\\.dkr\\.ecr(?:-fips)?\\.([a-z]{2}(?:-[a-z]+)+-\\d+)\\.amazonaws\\.com(?:\\.cn)?");
    private static final Pattern DUAL_STACK = Pattern.compile(
            "(\\d{12})\\.dkr-ecr(?:-fips)?\\.([a-z]{2}(?:-[a-z]+)+-\\d+)\\.on\\.aws");

    /** The ECR registry {@code host} names (case-insensitive, trailing dot allowed), or empty if it is none. */
    public static Optional<EcrRegistryHost> parse(String host) {
        if (host == null) {
            return Optional.empty();
        }
        String h = host.toLowerCase(Locale.ROOT);
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        if (h.equals(PUBLIC_HOST)) {
            return Optional.of(new EcrRegistryHost(null, PUBLIC_API_REGION, true));
        }
        for (Pattern p : new Pattern[] {PRIVATE, DUAL_STACK}) {
            Matcher m = p.matcher(h);
            if (m.matches()) {
                return Optional.of(new EcrRegistryHost(m.group(1), m.group(2), false));
            }
        }
        return Optional.empty();
    }
}
