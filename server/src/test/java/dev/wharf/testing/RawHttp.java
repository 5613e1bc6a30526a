package dev.wharf.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * HTTP/1.1 over a raw socket to 127.0.0.1, for tests that must control exactly what a client sends and when:
 * half request heads, pipelined requests, clients that read nothing. Every read is bounded by a socket timeout.
 */
public final class RawHttp {
    private RawHttp() {
    }

    /** One response as it came off the wire. */
    public record Response(int status, Map<String, String> headers, byte[] body) {
        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    /** A socket to {@code 127.0.0.1:port} whose reads give up after {@code readTimeout}. */
    public static Socket connect(int port, Duration readTimeout) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout((int) readTimeout.toMillis());
        return s;
    }

    /** Writes {@code text} (request heads in ISO-8859-1) and flushes. */
    public static void send(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
    }

    /** {@code METHOD path HTTP/1.1} with a Host header and the given extra header lines, keep-alive. */
    public static String request(String method, String path, String... headerLines) {
        StringBuilder b = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: wharf\r\n");
        for (String h : headerLines) {
            b.append(h).append("\r\n");
        }
        return b.append("\r\n").toString();
    }

    /** Reads one response with a Content-Length body (none for a HEAD: {@code head}). */
    public static Response read(InputStream in, boolean head) throws IOException {
        String statusLine = line(in);
        if (statusLine == null) {
            throw new IOException("connection closed before a response");
        }
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
            throw new IOException("not a status line: " + statusLine);
        }
        Map<String, String> headers = new TreeMap<>();
        String line;
        while ((line = line(in)) != null && !line.isEmpty()) {
            int colon = line.indexOf(':');
            headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
        }
        long length = head || !headers.containsKey("content-length") ? 0
                : Long.parseLong(headers.get("content-length"));
        byte[] body = in.readNBytes((int) length);
        if (body.length != length) {
            throw new IOException("body ended after " + body.length + " of " + length + " bytes");
        }
        return new Response(Integer.parseInt(parts[1]), headers, body);
    }

    /**
     * Reads and discards until the server closes the connection (true) or {@code limit} passes (false). A reset
     * counts as closed.
     */
    public static boolean closedWithin(Socket s, Duration limit) throws IOException {
        long deadline = System.nanoTime() + limit.toNanos();
        byte[] buf = new byte[8192];
        InputStream in = s.getInputStream();
        while (System.nanoTime() < deadline) {
            s.setSoTimeout((int) Math.max(1, Math.min(500, (deadline - System.nanoTime()) / 1_000_000)));
            try {
                if (in.read(buf) < 0) {
                    return true;
                }
            } catch (SocketTimeoutException e) {
                // still open: look again until the deadline
            } catch (IOException e) {
                return true; // reset
            }
        }
        return false;
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                String s = b.toString(StandardCharsets.ISO_8859_1);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            b.write(c);
            if (b.size() > 65536) {
                throw new IOException("header line longer than 64 KiB");
            }
        }
        return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
    }
}
