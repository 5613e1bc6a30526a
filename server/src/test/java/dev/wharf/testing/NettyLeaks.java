package dev.wharf.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Turns Netty's leak reports into test failures. Netty only logs a LEAK; this factory's detectors also record each
 * report so {@link #assertNoLeaks()} can fail on it. It must be installed before the first {@code ByteBuf} class is
 * loaded (each buffer class takes its detector once, in a static initializer): {@link NettyLeakListener} does that
 * when the JUnit launcher session opens, before any test class loads, and the surefire argLine sets paranoid
 * detection for the whole JVM. If it was installed too late, {@link #assertNoLeaks()} fails saying so.
 */
public final class NettyLeaks {
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

    private NettyLeaks() {
    }

    /** Installs the recording factory (once; later calls do nothing). */
    public static void install() {
    }

    /**
     * Collects garbage, provokes the detectors to look, and fails if any ByteBuf leaked since the last call (the
     * reports are taken, so one leak fails one check), or if the factory was installed after ByteBuf was loaded.
     */
    public static void assertNoLeaks() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(50);
            // Leaks are reported when a new buffer is tracked.
            for (int j = 0; j < 10; j++) {
                PooledByteBufAllocator.DEFAULT.directBuffer(16).release();
                PooledByteBufAllocator.DEFAULT.heapBuffer(16).release();
            }
        }
        if (!effective) {
            throw new AssertionError("NettyLeaks was installed after ByteBuf was loaded, so leaks cannot be seen: "
                    + "the JUnit launcher should install it first (META-INF/services/"
                    + "org.junit.platform.launcher.LauncherSessionListener -> NettyLeakListener)");
        }
        List<String> found = new ArrayList<>();
        synchronized (LEAKS) {
            found.addAll(LEAKS);
            LEAKS.clear();
        }
        if (!found.isEmpty()) {
            throw new AssertionError(found.size() + " ByteBuf leak(s):\n" + String.join("\n----\n", found));
        }
    }
}
