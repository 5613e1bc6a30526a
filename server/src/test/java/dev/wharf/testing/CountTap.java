package dev.wharf.testing;

import java.net.Socket;
import java.util.concurrent.atomic.AtomicLong;

/** A {@link TcpRelay} tap that counts connections and bytes each way, and remembers when a byte last went down. */
public final class CountTap implements TcpRelay.Tap {
    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong upstreamBytes = new AtomicLong();
    private final AtomicLong downstreamBytes = new AtomicLong();
    private final AtomicLong lastDownstreamNanos = new AtomicLong();

    @Override
    public void connected(Socket client, Socket server) {
        connections.incrementAndGet();
    }

    @Override
    public TcpRelay.Flow flow(Socket client, boolean downstream) {
        return new TcpRelay.Flow() {
            @Override
            public void after(int n) {
                if (downstream) {
                    downstreamBytes.addAndGet(n);
                    lastDownstreamNanos.set(System.nanoTime());
                } else {
                    upstreamBytes.addAndGet(n);
                }
            }
        };
    }

    /** Connections relayed so far. */
    public long connections() {
        return connections.get();
    }

    /** Bytes the clients sent through the relay so far. */
    public long upstreamBytes() {
        return upstreamBytes.get();
    }

    /** Bytes the server sent back through the relay so far. */
    public long downstreamBytes() {
        return downstreamBytes.get();
    }

    /** System.nanoTime() of the last byte forwarded from the server to a client. */
    public long lastDownstreamNanos() {
        return lastDownstreamNanos.get();
    }
}
