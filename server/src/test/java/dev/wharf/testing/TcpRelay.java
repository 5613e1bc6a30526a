package dev.wharf.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one TCP relay of the test suite: it listens on 127.0.0.1, connects each client to a target and forwards bytes
 * both ways, and its {@link Tap taps} watch or shape what passes: {@link CountTap} counts, {@link ThrottleTap}
 * slows the server's answers, {@link CutTap} cuts connections, {@link RequestLogTap} records HTTP request lines, and
 * {@link ConnectTap} makes it an HTTP CONNECT proxy that picks the target per tunnel. It is not a fake: what answers
 * is always the real server behind it.
 */
public final class TcpRelay implements AutoCloseable {
    /** Watches or shapes a relay's connections; every method passes things through unchanged unless overridden. */
    public interface Tap {
        /**
         * A client connected: returns where to connect it ({@code target} unless this tap routes), or null to refuse
         * it (the tap has answered the client). A routing tap may read from and write to {@code client} here.
         */
        default InetSocketAddress route(Socket client, InetSocketAddress target) throws IOException {
            return target;
        }

        /** The relay connected {@code client} to {@code server}, before any byte is forwarded. */
        default void connected(Socket client, Socket server) throws IOException {
        }

        /** What this tap does with one direction of one connection ({@code downstream}: server to client). */
        default Flow flow(Socket client, boolean downstream) {
            return Flow.PASS;
        }
    }

    /** What a tap does with the bytes of one direction of one connection; called on that direction's thread. */
    public interface Flow {
        Flow PASS = new Flow() {
        };

        /** Before {@code n} bytes read into {@code buf} are forwarded: how many to forward; fewer cuts the link. */
        default int before(byte[] buf, int n) throws IOException {
            return n;
        }

        /** After {@code n} bytes were written and flushed (a throttle sleeps here). */
        default void after(int n) throws InterruptedException {
        }
    }

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final List<Tap> taps;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "tcp-relay");
        t.setDaemon(true);
        return t;
    });
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    private TcpRelay(InetSocketAddress target, List<Tap> taps) throws IOException {
        this.target = target;
        this.taps = List.copyOf(taps);
        this.server = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
        threads.execute(this::acceptLoop);
    }

    /** A relay to {@code target} with {@code taps}, applied in order. */
    public static TcpRelay to(InetSocketAddress target, Tap... taps) throws IOException {
        return new TcpRelay(target, List.of(taps));
    }

    /** A relay to {@code 127.0.0.1:port} with {@code taps}, applied in order. */
    public static TcpRelay toLocalPort(int port, Tap... taps) throws IOException {
        return to(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), taps);
    }

    /** A relay whose target a routing tap (a {@link ConnectTap}) chooses per connection. */
    public static TcpRelay routed(Tap router, Tap... more) throws IOException {
        List<Tap> all = new ArrayList<>();
        all.add(router);
        all.addAll(List.of(more));
        return new TcpRelay(null, all);
    }

    public int port() {
        return server.getLocalPort();
    }

    /** This relay's first tap of {@code type}, to read what it saw or change its settings. */
    public <T extends Tap> T tap(Class<T> type) {
        return taps.stream().filter(type::isInstance).map(type::cast).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no " + type.getSimpleName() + " on this relay"));
    }

    /** {@code http://127.0.0.1:PORT}. */
    public String url() {
        return "http://127.0.0.1:" + port();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                sockets.add(client);
                threads.execute(() -> serve(client));
            } catch (IOException e) {
                if (server.isClosed()) {
                    return;
                }
            }
        }
    }

    private void serve(Socket client) {
        Socket upstream = new Socket();
        try {
            InetSocketAddress to = target;
            for (Tap tap : taps) {
                to = tap.route(client, to);
                if (to == null) {
                    closeQuietly(client);
                    return;
                }
            }
            upstream.connect(to, 5_000);
            sockets.add(upstream);
            for (Tap tap : taps) {
                tap.connected(client, upstream);
            }
        } catch (IOException e) {
            closeQuietly(client);
            closeQuietly(upstream);
            return;
        }
        List<Flow> up = new ArrayList<>();
        List<Flow> down = new ArrayList<>();
        for (Tap tap : taps) {
            up.add(tap.flow(client, false));
            down.add(tap.flow(client, true));
        }
        AtomicInteger open = new AtomicInteger(2);
        threads.execute(() -> pump(client, upstream, up, open));
        pump(upstream, client, down, open);
    }

    /** Forwards {@code from} to {@code to} through {@code flows}; EOF half-closes, an error or a cut closes both. */
    private void pump(Socket from, Socket to, List<Flow> flows, AtomicInteger open) {
        byte[] buf = new byte[16 * 1024];
        boolean clean = false;
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            int n;
            while ((n = in.read(buf)) > 0) {
                int pass = n;
                for (Flow f : flows) {
                    pass = Math.min(pass, f.before(buf, pass));
                }
                if (pass > 0) {
                    out.write(buf, 0, pass);
                    out.flush();
                }
                if (pass < n) {
                    break; // cut
                }
                for (Flow f : flows) {
                    f.after(n);
                }
            }
            if (n < 0) {
                to.shutdownOutput();
                clean = true;
            }
        } catch (IOException | InterruptedException ignored) {
            // one side closed: close the other
        } finally {
            if (!clean || open.decrementAndGet() == 0) {
                closeQuietly(from);
                closeQuietly(to);
            }
        }
    }

    static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    /** Closes every connection the relay holds now, leaving it listening. */
    public void closeConnections() {
        sockets.forEach(TcpRelay::closeQuietly);
        sockets.clear();
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        sockets.forEach(TcpRelay::closeQuietly);
        threads.shutdownNow();
    }
}
