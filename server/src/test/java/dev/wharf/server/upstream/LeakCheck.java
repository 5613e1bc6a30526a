package dev.wharf.server.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Turns Netty's leak reports into test failures. Netty only logs a LEAK; installed before the first ByteBuf
 * class is loaded, this factory's detectors also record each report so {@link #assertNoLeaks()} can fail on it.
 */
final class LeakCheck {
    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();
    private static volatile boolean effective;

    static {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory() {
            @Override
            @SuppressWarnings("deprecation")
            public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval,
                    long maxActive) {
                if (ByteBuf.class.isAssignableFrom(resource)) {
                    effective = true;
                }
                return new ResourceLeakDetector<T>(resource, samplingInterval) {
                    @Override
                    protected void reportTracedLeak(String resourceType, String records) {
                        LEAKS.add(resourceType + records);
                        super.reportTracedLeak(resourceType, records);
                    }

                    @Override
                    protected void reportUntracedLeak(String resourceType) {
                        LEAKS.add(resourceType);
                        super.reportUntracedLeak(resourceType);
                    }
                };
            }
        });
    }

    private LeakCheck() {
    }

    /** Call from a static initializer, before any Netty buffer is touched. */
    static void install() {
    }

    /** Collects garbage, provokes the detectors to look, and fails if any ByteBuf leaked. */
    static void assertNoLeaks() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(50);
            // Leaks are reported when a new buffer is tracked.
            for (int j = 0; j < 10; j++) {
                PooledByteBufAllocator.DEFAULT.directBuffer(16).release();
                PooledByteBufAllocator.DEFAULT.heapBuffer(16).release();
            }
        }
        if (!LEAKS.isEmpty()) {
            throw new AssertionError(LEAKS.size() + " ByteBuf leak(s):\n" + String.join("\n----\n", LEAKS));
        }
        if (!effective) {
            System.err.println("LeakCheck: installed after ByteBuf was loaded; relying on Netty's LEAK log only");
        }
    }
}
