package dev.wharf.server.http;

import io.netty.channel.DefaultFileRegion;
import java.nio.channels.FileChannel;

/**
 * A slice of a file channel that the caller owns. Unlike a plain {@link DefaultFileRegion} it does not close the
 * channel when released, so a client streaming a growing fill can send many slices over one open channel. It is a
 * {@code DefaultFileRegion} so that both transports send it with sendfile: NIO through
 * {@code FileChannel.transferTo}, and native epoll only for that class (any other region it copies through
 * {@code transferTo} into a small buffer). A region sent while the file is shorter than it fails its write
 * ({@code DefaultFileRegion} checks the size when a transfer makes no progress).
 */
final class FileSegment extends DefaultFileRegion {
    FileSegment(FileChannel file, long position, long count) {
        super(file, position, count);
    }

    @Override
    protected void deallocate() {
        // The channel belongs to the caller.
    }
}
