package dev.wharf.testing;

import java.net.http.HttpHeaders;

/**
 * What one streamed GET saw, from {@link Pulls}: status, Content-Length, the bytes read and their SHA-256 digest,
 * how the body ended ({@code eof}: read returned -1; {@code error}: what cut it short, or null) and when
 * (System.nanoTime(): the request, the first MiB or the whole body if smaller, the end). {@code digest} is null when
 * the raw-socket GET failed, and {@code headers} null when it did not come from the JDK client.
 */
public record Fetch(int status, long contentLength, long bytes, String digest, boolean eof, String error,
        long startNanos, long firstMiBNanos, long doneNanos, HttpHeaders headers) {
    /** A whole, clean 200 response: EOF reached without error and exactly Content-Length bytes. */
    public boolean clean() {
        return status == 200 && eof && error == null && contentLength >= 0 && bytes == contentLength;
    }

    /** The same as {@link #clean()}: the client has the blob whole. */
    public boolean whole() {
        return clean();
    }

    public String describe() {
        return "status " + status + ", Content-Length " + contentLength + ", read " + bytes + " bytes, eof " + eof
                + ", error " + error + ", digest " + digest;
    }
}
