package dev.wharf.server.http;

import io.netty.channel.FileRegion;
import io.netty.util.AbstractReferenceCounted;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A slice of a file channel that the caller owns. Unlike Netty's DefaultFileRegion it does not close the channel
 * when released, so a client streaming a growing fill can send many slices over one open channel. On the NIO
 * transport {@code FileChannel.transferTo} to a socket is sendfile, so this stays zero-copy.
 */
final class FileSegment extends AbstractReferenceCounted implements FileRegion {
    private final FileChannel file;
    private final long position;
    private final long count;
    private long transferred;

    FileSegment(FileChannel file, long position, long count) {
        this.file = file;
        this.position = position;
        this.count = count;
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    @Deprecated
    public long transfered() {
        return transferred;
    }

    @Override
    public long transferred() {
        return transferred;
    }

    @Override
    public long count() {
        return count;
    }

    @Override
    public long transferTo(WritableByteChannel target, long pos) throws IOException {
        long remaining = count - pos;
        if (remaining <= 0) {
            return 0;
        }
        long written = file.transferTo(position + pos, remaining, target);
        if (written > 0) {
            transferred += written;
        } else if (written == 0 && file.size() < position + pos + 1) {
            throw new IOException("file shrank under a region being sent");
        }
        return written;
    }

    @Override
    protected void deallocate() {
        // The channel belongs to the caller.
    }

    @Override
    public FileRegion retain() {
        super.retain();
        return this;
    }

    @Override
    public FileRegion retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public FileRegion touch() {
        return this;
    }

    @Override
    public FileRegion touch(Object hint) {
        return this;
    }
}
