package dev.wharf.testing;

import java.net.Socket;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link TcpRelay} tap that cuts each connection after the server has sent a given number of bytes through it: the
 * client gets exactly that many, then the connection closes both ways, as when a link dies mid-body.
 */
public final class CutTap implements TcpRelay.Tap {
    private volatile long downstreamLimit;
    private final AtomicLong cuts = new AtomicLong();

    /** Cuts after {@code downstreamLimit} bytes server to client per connection; &lt; 0 never cuts. */
    public CutTap(long downstreamLimit) {
        this.downstreamLimit = downstreamLimit;
    }

    /** Changes the limit for connections opened from now on. */
    public void setDownstreamLimit(long limit) {
        this.downstreamLimit = limit;
    }

    /** Connections cut so far. */
    public long cuts() {
        return cuts.get();
    }

    @Override
    public TcpRelay.Flow flow(Socket client, boolean downstream) {
        long limit = downstreamLimit;
        if (!downstream || limit < 0) {
            return TcpRelay.Flow.PASS;
        }
        return new TcpRelay.Flow() {
            private long sent;

            @Override
            public int before(byte[] buf, int n) {
                long pass = Math.min(n, limit - sent);
                sent += pass;
                if (pass < n) {
                    cuts.incrementAndGet();
                }
                return (int) pass;
            }
        };
    }
}
