import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The hashing limit of a cold pull on this machine: seconds for the JDK's SHA-256 over N MiB held in a 1 MiB direct
 * buffer (as a fill hashes the upstream's buffers), after one warm-up pass. Prints each repetition, then the median.
 * Run with {@code java bench/Sha256Limit.java [MiB] [repetitions]} (a single-file program; no build needed).
 */
public final class Sha256Limit {
    public static void main(String[] args) throws Exception {
        int mib = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        byte[] random = new byte[1 << 20];
        ThreadLocalRandom.current().nextBytes(random);
        ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
        chunk.put(random).flip();
        once(chunk, mib); // warm-up: the intrinsic (SHA-NI where the CPU has it) is compiled in
        double[] secs = new double[reps];
        for (int i = 0; i < reps; i++) {
            secs[i] = once(chunk, mib);
            System.out.printf("sha256 %d MiB: %.3f s%n", mib, secs[i]);
        }
        Arrays.sort(secs);
        System.out.printf("median %.3f%n", secs[reps / 2]);
    }

    private static double once(ByteBuffer chunk, int mib) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        long t0 = System.nanoTime();
        for (int i = 0; i < mib; i++) {
            sha.update(chunk.duplicate());
        }
        sha.digest();
        return (System.nanoTime() - t0) / 1e9;
    }
}
