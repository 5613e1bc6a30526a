package dev.wharf.server.api;

/**
 * OCI distribution error codes (spec section "Error Codes"), plus the few wharf needs that the spec leaves open:
 * RANGE_INVALID, PAGINATION_NUMBER_INVALID and UNAVAILABLE (an upstream wharf cannot reach).
 */
public enum ErrorCode {
    BLOB_UNKNOWN("blob unknown to registry"),
    BLOB_UPLOAD_INVALID("blob upload invalid"),
    BLOB_UPLOAD_UNKNOWN("blob upload unknown to registry"),
    DIGEST_INVALID("provided digest did not match uploaded content"),
    MANIFEST_BLOB_UNKNOWN("manifest references a manifest or blob unknown to registry"),
    MANIFEST_INVALID("manifest invalid"),
    MANIFEST_UNKNOWN("manifest unknown to registry"),
    NAME_INVALID("invalid repository name"),
    NAME_UNKNOWN("repository name not known to registry"),
    SIZE_INVALID("provided length did not match content length"),
    UNAUTHORIZED("authentication required"),
    DENIED("requested access to the resource is denied"),
    UNSUPPORTED("the operation is unsupported"),
    TOOMANYREQUESTS("too many requests"),
    RANGE_INVALID("requested range not satisfiable"),
    PAGINATION_NUMBER_INVALID("invalid number of results requested"),
    UNAVAILABLE("upstream registry unavailable");

    private final String description;

    ErrorCode(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }
}
