import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * The SHA-256 limit of this machine for bench/run.sh: the JDK's SHA-256 (the one wharf's fills use, SHA-NI where the
 * CPU has it) over a file, read in 1 MiB chunks through a direct buffer from the page cache. Prints the median
 * seconds of REPEAT passes after warm-up passes over at least 1 GiB, and the digest, e.g. "seconds=0.66 digest=sha256:...".
 *
 *   java bench/Sha256Rate.java FILE [REPEAT]
 */
public final class Sha256Rate {
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        int repeat = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        // Warm-up: at least 1 GiB hashed, so the JIT has compiled the intrinsic loop before the timed passes.
        String digest = pass(file, null);
        long size = Math.max(1, java.nio.file.Files.size(file));
        for (long done = size; done < (1L << 30); done += size) {
            pass(file, digest);
        }
        double[] seconds = new double[repeat];
        for (int i = 0; i < repeat; i++) {
            long t0 = System.nanoTime();
            pass(file, digest);
            seconds[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(seconds);
        System.out.printf("seconds=%.3f digest=%s%n", seconds[repeat / 2], digest);
    }

    private static String pass(Path file, String expected) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (ch.read(buf) >= 0) {
                buf.flip();
                sha.update(buf);
                buf.clear();
            }
        }
        StringBuilder hex = new StringBuilder("sha256:");
        for (byte b : sha.digest()) {
            hex.append(String.format("%02x", b));
        }
        if (expected != null && !expected.equals(hex.toString())) {
            throw new IOException("the digest changed between passes: the file changed under the measurement");
        }
        return hex.toString();
    }
}
