package dev.wharf.testing;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.Socket;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A {@link TcpRelay} tap that, while shut, holds every byte a client sends towards the server (the request waits in
 * the relay) until {@link #open()}: tests use it to keep an upstream request in flight while more clients arrive.
 * What answers is still the real server behind the relay. A held request is released after 60 s at the latest.
 */
public final class GateTap implements TcpRelay.Tap {
    private volatile CountDownLatch gate;

    /** Holds requests from now on. */
    public void shut() {
        gate = new CountDownLatch(1);
    }

    /** Lets held and later requests through. */
    public void open() {
        CountDownLatch g = gate;
        gate = null;
        if (g != null) {
            g.countDown();
        }
    }

    @Override
    public TcpRelay.Flow flow(Socket client, boolean downstream) {
        if (downstream) {
            return TcpRelay.Flow.PASS;
        }
        return new TcpRelay.Flow() {
            @Override
            public int before(byte[] buf, int n) throws IOException {
                CountDownLatch g = gate;
                if (g != null) {
                    try {
                        g.await(60, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new InterruptedIOException("gate interrupted");
                    }
                }
                return n;
            }
        };
    }
}
