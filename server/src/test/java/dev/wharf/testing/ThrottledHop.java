package dev.wharf.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP hop on 127.0.0.1 in front of a real server: it forwards bytes both ways unchanged, counts the bytes the
 * server sends back, can throttle them to a rate, and remembers when it last forwarded a byte. Tests use it to
 * slow a real registry down (to show that clients get bytes while the upstream transfer still runs) and to count
 * what crossed the wire. It is not a fake: the registry behind it answers every request.
 */
public final class ThrottledHop implements AutoCloseable {
    private final ServerSocket server;
    private final InetSocketAddress target;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "throttled-hop");
        t.setDaemon(true);
        return t;
    });
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final AtomicLong downstreamBytes = new AtomicLong();
    private final AtomicLong lastDownstreamNanos = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private volatile long bytesPerSecond;

    /** Starts forwarding to {@code target}; {@code bytesPerSecond} &lt;= 0 means no limit. */
    public ThrottledHop(InetSocketAddress target, long bytesPerSecond) throws IOException {
        this.target = target;
        this.bytesPerSecond = bytesPerSecond;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads.execute(this::acceptLoop);
    }

    public int port() {
        return server.getLocalPort();
    }

    public String url() {
        return "http://127.0.0.1:" + port();
    }

    public void setBytesPerSecond(long rate) {
        this.bytesPerSecond = rate;
    }

    /** Bytes the server sent back through the hop so far. */
    public long downstreamBytes() {
        return downstreamBytes.get();
    }

    /** System.nanoTime() of the last byte forwarded from the server to the client. */
    public long lastDownstreamNanos() {
        return lastDownstreamNanos.get();
    }

    public long connections() {
        return connections.get();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket();
                upstream.connect(target, 5_000);
                sockets.add(client);
                sockets.add(upstream);
                connections.incrementAndGet();
                threads.execute(() -> pump(client, upstream, false));
                threads.execute(() -> pump(upstream, client, true));
            } catch (IOException e) {
                if (server.isClosed()) {
                    return;
                }
            }
        }
    }

    private void pump(Socket from, Socket to, boolean downstream) {
        byte[] buf = new byte[16 * 1024];
        long windowStart = System.nanoTime();
        long windowBytes = 0;
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
                out.flush();
                if (downstream) {
                    downstreamBytes.addAndGet(n);
                    lastDownstreamNanos.set(System.nanoTime());
                    long rate = bytesPerSecond;
                    if (rate > 0) {
                        windowBytes += n;
                        long dueNanos = windowBytes * 1_000_000_000L / rate;
                        long sleepNanos = dueNanos - (System.nanoTime() - windowStart);
                        if (sleepNanos > 0) {
                            TimeUnit.NANOSECONDS.sleep(sleepNanos);
                        }
                    }
                }
            }
        } catch (IOException | InterruptedException ignored) {
            // one side closed: close the other
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        sockets.forEach(ThrottledHop::closeQuietly);
        threads.shutdownNow();
    }
}
