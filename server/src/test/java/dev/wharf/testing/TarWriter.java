package dev.wharf.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A minimal POSIX ustar writer: directories, regular files (from bytes or streamed) and symlinks, with
 * fixed owner (0/0 root), fixed mtime, so the same entries always give the same bytes.
 */
public final class TarWriter {
    /** 2024-01-01T00:00:00Z: every entry's mtime, so archives are reproducible. */
    public static final long MTIME = 1_704_067_200L;
    private static final int BLOCK = 512;

    private final OutputStream out;
    private long written;

    /** Writes the archive to {@code out}; {@link #finish()} writes the end marker but does not close it. */
    public TarWriter(OutputStream out) {
        this.out = out;
    }

    /** Fills {@code buffer[0..length)} with the next bytes of a file's content. */
    @FunctionalInterface
    public interface Content {
        void fill(byte[] buffer, int length) throws IOException;
    }

    /** A directory entry; {@code name} should end with '/'. */
    public void directory(String name, int mode) throws IOException {
        header(name.endsWith("/") ? name : name + "/", mode, 0, '5', "");
    }

    /** A regular file with the given content. */
    public void file(String name, int mode, byte[] content) throws IOException {
        header(name, mode, content.length, '0', "");
        write(content, content.length);
        pad(content.length);
    }

    /** A regular file of {@code size} bytes produced 1 MiB at a time by {@code content}: never all in memory. */
    public void file(String name, int mode, long size, Content content) throws IOException {
        header(name, mode, size, '0', "");
        byte[] buffer = new byte[1 << 20];
        long left = size;
        while (left > 0) {
            int n = (int) Math.min(buffer.length, left);
            content.fill(buffer, n);
            write(buffer, n);
            left -= n;
        }
        pad(size);
    }

    /** A symbolic link {@code name} pointing at {@code target}. */
    public void symlink(String name, String target) throws IOException {
        header(name, 0777, 0, '2', target);
    }

    /** Writes the two zero blocks that end an archive. */
    public void finish() throws IOException {
        write(new byte[2 * BLOCK], 2 * BLOCK);
        out.flush();
    }

    /** Bytes written so far. */
    public long written() {
        return written;
    }

    private void header(String name, int mode, long size, char type, String linkName) throws IOException {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        String prefix = "";
        if (nameBytes.length > 100) {
            int slash = name.lastIndexOf('/', name.length() - 2);
            if (slash <= 0 || slash > 155 || name.length() - slash - 1 > 100) {
                throw new IllegalArgumentException("tar entry name too long for ustar: " + name);
            }
            prefix = name.substring(0, slash);
            name = name.substring(slash + 1);
        }
        byte[] h = new byte[BLOCK];
        put(h, 0, 100, name);
        octal(h, 100, 8, mode);
        octal(h, 108, 8, 0);
        octal(h, 116, 8, 0);
        octal(h, 124, 12, size);
        octal(h, 136, 12, MTIME);
        Arrays.fill(h, 148, 156, (byte) ' ');
        h[156] = (byte) type;
        put(h, 157, 100, linkName);
        put(h, 257, 6, "ustar\0");
        put(h, 263, 2, "00");
        put(h, 265, 32, "root");
        put(h, 297, 32, "root");
        octal(h, 329, 8, 0);
        octal(h, 337, 8, 0);
        put(h, 345, 155, prefix);
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        String checksum = String.format("%06o", sum);
        put(h, 148, 6, checksum);
        h[154] = 0;
        h[155] = ' ';
        write(h, BLOCK);
    }

    private static void put(byte[] h, int offset, int length, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > length) {
            throw new IllegalArgumentException("tar header field too long: " + value);
        }
        System.arraycopy(bytes, 0, h, offset, bytes.length);
    }

    private static void octal(byte[] h, int offset, int length, long value) {
        String digits = Long.toOctalString(value);
        if (digits.length() > length - 1) {
            throw new IllegalArgumentException("value " + value + " does not fit a " + length + "-byte tar field");
        }
        String padded = "0".repeat(length - 1 - digits.length()) + digits;
        put(h, offset, length - 1, padded);
        h[offset + length - 1] = 0;
    }

    private void pad(long size) throws IOException {
        int rest = (int) (size % BLOCK);
        if (rest != 0) {
            write(new byte[BLOCK - rest], BLOCK - rest);
        }
    }

    private void write(byte[] bytes, int length) throws IOException {
        out.write(bytes, 0, length);
        written += length;
    }
}
