package dev.wharf.storage.s3;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * {@code length} bytes of a file from {@code start}, read with positional reads (so several streams may share one
 * channel, and a retry simply opens a new one): what an upload sends, without holding the part in memory.
 */
final class RangeInputStream extends InputStream {
    private final FileChannel file;
    private long position;
    private final long end;

    RangeInputStream(FileChannel file, long start, long length) {
        this.file = file;
        this.position = start;
        this.end = start + length;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        if (position >= end) {
            return -1;
        }
        ByteBuffer buffer = ByteBuffer.wrap(b, off, (int) Math.min(len, end - position));
        int n = file.read(buffer, position);
        if (n < 0) {
            throw new IOException("file ended at " + position + ", before " + end);
        }
        position += n;
        return n;
    }

    @Override
    public int available() {
        return (int) Math.min(Integer.MAX_VALUE, end - position);
    }
}
