package dev.wharf.testing;

import java.io.ByteArrayOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A {@link TcpRelay} tap that records the request line of every HTTP/1.1 request a client sends through the relay:
 * a server's request log, as seen on the wire. Only request heads are parsed (bodies are skipped by their
 * Content-Length), so it is exact for registry pulls, which send GET and HEAD only. A line is recorded before its
 * bytes are forwarded, so it is there by the time the answer comes back.
 */
public final class RequestLogTap implements TcpRelay.Tap {
    /** One request line: method and request target (path and query, as sent). */
    public record Request(String method, String target) {
        public String path() {
            int q = target.indexOf('?');
            return q < 0 ? target : target.substring(0, q);
        }

        public String query() {
            int q = target.indexOf('?');
            return q < 0 ? "" : target.substring(q + 1);
        }

        @Override
        public String toString() {
            return method + " " + target;
        }
    }

    private final List<Request> requests = new CopyOnWriteArrayList<>();

    /** Every request line seen so far, oldest first. */
    public List<Request> requests() {
        return new ArrayList<>(requests);
    }

    /** Forgets the requests seen so far. */
    public void clear() {
        requests.clear();
    }

    /** Requests with this method (null for any) whose target contains {@code substring}. */
    public long count(String method, String substring) {
        return requests.stream()
                .filter(r -> method == null || r.method().equalsIgnoreCase(method))
                .filter(r -> r.target().contains(substring))
                .count();
    }

    @Override
    public TcpRelay.Flow flow(Socket client, boolean downstream) {
        if (downstream) {
            return TcpRelay.Flow.PASS;
        }
        return new TcpRelay.Flow() {
            private final ByteArrayOutputStream head = new ByteArrayOutputStream();
            private long bodyToSkip;

            @Override
            public int before(byte[] buf, int n) {
                for (int i = 0; i < n; i++) {
                    if (bodyToSkip > 0) {
                        bodyToSkip--;
                        continue;
                    }
                    head.write(buf[i]);
                    int size = head.size();
                    if (buf[i] != '\n') {
                        continue;
                    }
                    byte[] h = head.toByteArray();
                    if (size == 2 && h[0] == '\r') {
                        head.reset(); // a stray CRLF between requests
                    } else if (size >= 4 && h[size - 2] == '\r' && h[size - 3] == '\n' && h[size - 4] == '\r') {
                        bodyToSkip = record(new String(h, StandardCharsets.ISO_8859_1));
                        head.reset();
                    }
                }
                return n;
            }
        };
    }

    /** Records the request line; returns the Content-Length of the body that follows (0 if none). */
    private long record(String head) {
        String[] lines = head.split("\r\n");
        String[] parts = lines[0].split(" ");
        if (parts.length >= 2) {
            requests.add(new Request(parts[0], parts[1]));
        }
        for (String line : lines) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                try {
                    return Long.parseLong(line.substring(15).trim());
                } catch (NumberFormatException e) {
                    return 0;
                }
            }
        }
        return 0;
    }
}
