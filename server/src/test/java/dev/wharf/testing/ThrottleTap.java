package dev.wharf.testing;

import java.net.Socket;
import java.util.concurrent.TimeUnit;

/**
 * A {@link TcpRelay} tap that holds what the server sends back to a rate, per connection: tests use it to slow a real
 * registry down, to show that clients get bytes while the upstream transfer still runs.
 */
public final class ThrottleTap implements TcpRelay.Tap {
    private volatile long bytesPerSecond;

    /** {@code bytesPerSecond} &lt;= 0 means no limit. */
    public ThrottleTap(long bytesPerSecond) {
        this.bytesPerSecond = bytesPerSecond;
    }

    /** Changes the rate for the bytes still to come; &lt;= 0 lifts the limit. */
    public void setBytesPerSecond(long rate) {
        this.bytesPerSecond = rate;
    }

    @Override
    public TcpRelay.Flow flow(Socket client, boolean downstream) {
        if (!downstream) {
            return TcpRelay.Flow.PASS;
        }
        long windowStart = System.nanoTime();
        return new TcpRelay.Flow() {
            private long windowBytes;

            @Override
            public void after(int n) throws InterruptedException {
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
        };
    }
}
