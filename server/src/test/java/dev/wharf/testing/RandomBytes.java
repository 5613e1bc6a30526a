package dev.wharf.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * Fast deterministic pseudo-random bytes: the same seed always gives the same stream, at well over 1 GB/s,
 * so tests can generate GiB-sized blobs in seconds and regenerate them to compare.
 */
public final class RandomBytes implements TarWriter.Content {
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final SplittableRandom random;

    /** A stream of bytes determined by {@code seed}. */
    public RandomBytes(long seed) {
        this.random = new SplittableRandom(seed);
    }

    /**
     * Fills {@code buffer[0..length)} with the next bytes. Each call consumes whole 8-byte words, so the
     * stream depends on the call sizes; callers that regenerate a stream must use the same chunking (the
     * fixtures always use 1 MiB chunks).
     */
    @Override
    public void fill(byte[] buffer, int length) {
        int i = 0;
        for (; i + 8 <= length; i += 8) {
            LONGS.set(buffer, i, random.nextLong());
        }
        if (i < length) {
            long last = random.nextLong();
            for (; i < length; i++) {
                buffer[i] = (byte) last;
                last >>>= 8;
            }
        }
    }

    /** Writes {@code size} bytes of the stream for {@code seed} to {@code out}, 1 MiB at a time. */
    public static void write(OutputStream out, long size, long seed) throws IOException {
        RandomBytes bytes = new RandomBytes(seed);
        byte[] buffer = new byte[1 << 20];
        long left = size;
        while (left > 0) {
            int n = (int) Math.min(buffer.length, left);
            bytes.fill(buffer, n);
            out.write(buffer, 0, n);
            left -= n;
        }
    }
}
