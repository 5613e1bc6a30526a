package dev.wharf.storage.s3;

import dev.wharf.storage.ContentStore;
import java.net.URI;
import java.util.Objects;

/**
 * Where the bucket is and how to reach it: {@code storage.s3}, already validated by the config reader. A null
 * {@code accessKey} means the SDK's default credential chain. {@code prefix} is empty or safe segments each
 * followed by {@code /}. toString never shows the secret.
 */
public record S3Settings(URI endpoint, String bucket, String region, boolean pathStyle, String prefix,
                         String accessKey, String secretKey, boolean redirect) {
    public S3Settings {
        Objects.requireNonNull(bucket, "bucket");
        Objects.requireNonNull(region, "region");
        prefix = prefix == null ? "" : prefix;
        checkPrefix(prefix);
        if ((accessKey == null) != (secretKey == null)) {
            throw new IllegalArgumentException("accessKey and secretKey go together");
        }
    }

    /** Throws unless {@code prefix} is empty or {@link ContentStore#checkSegment safe segments} each ending in '/'. */
    public static String checkPrefix(String prefix) {
        if (prefix.isEmpty()) {
            return prefix;
        }
        if (!prefix.endsWith("/")) {
            throw new IllegalArgumentException("prefix must end with '/': " + prefix);
        }
        for (String segment : prefix.substring(0, prefix.length() - 1).split("/", -1)) {
            ContentStore.checkSegment(segment);
        }
        return prefix;
    }

    @Override
    public String toString() {
        return "S3Settings[endpoint=" + endpoint + ", bucket=" + bucket + ", region=" + region + ", pathStyle="
                + pathStyle + ", prefix=" + prefix + ", accessKey=" + accessKey + ", secretKey="
                + (secretKey == null ? "null" : "***") + ", redirect=" + redirect + "]";
    }
}
