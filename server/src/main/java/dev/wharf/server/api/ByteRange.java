package dev.wharf.server.api;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A single byte range {@code [start, end)} of a blob of known size, parsed from a {@code Range} header.
 * Multiple ranges are not served as multipart: the header is ignored and the whole blob is sent, as RFC 9110
 * allows. A malformed or unsatisfiable range is a 416 with {@code Content-Range: bytes *}{@code /size}.
 */
public record ByteRange(long start, long end) {

    public long length() {
        return end - start;
    }

    /** Parses the header; null means "no usable range, send everything". */
    public static ByteRange parse(String header, long size) {
        if (header == null) {
            return null;
        }
        String h = header.trim();
        if (!h.regionMatches(true, 0, "bytes=", 0, 6)) {
            throw invalid("Range must be 'bytes=START-END'", size);
        }
        String spec = h.substring(6).trim();
        if (spec.indexOf(',') >= 0) {
            return null;
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            throw invalid("Range must be 'bytes=START-END'", size);
        }
        String a = spec.substring(0, dash).trim();
        String b = spec.substring(dash + 1).trim();
        try {
            if (a.isEmpty()) {
                if (b.isEmpty()) {
                    throw invalid("Range has neither start nor end", size);
                }
                long suffix = number(b);
                if (suffix == 0 || size == 0) {
                    throw invalid("Range bytes=-" + suffix + " is not satisfiable for " + size + " bytes", size);
                }
                return new ByteRange(Math.max(0, size - suffix), size);
            }
            long start = number(a);
            long last = b.isEmpty() ? size - 1 : number(b);
            if (last < start) {
                throw invalid("Range end is before its start", size);
            }
            if (start >= size) {
                throw invalid("Range starts at " + start + ", beyond the blob's " + size + " bytes", size);
            }
            return new ByteRange(start, Math.min(last, size - 1) + 1);
        } catch (NumberFormatException e) {
            throw invalid("Range values must be non-negative integers", size);
        }
    }

    private static long number(String s) {
        if (s.isEmpty() || s.length() > 19 || !s.chars().allMatch(Character::isDigit)) {
            throw new NumberFormatException(s);
        }
        return Long.parseLong(s);
    }

    private static RegistryException invalid(String message, long size) {
        return new RegistryException(ErrorCode.RANGE_INVALID, HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                message, new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_RANGE, "bytes */" + size));
    }

    /** The Content-Range header value for a 206. */
    public String contentRange(long size) {
        return "bytes " + start + "-" + (end - 1) + "/" + size;
    }
}
