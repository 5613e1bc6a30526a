package dev.wharf.testing;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

/** A ByteBuf that is never released fails {@link NettyLeaks#assertNoLeaks()}, whatever test loaded Netty first. */
class NettyLeaksTest {
    @Test
    void aLeakedBufferFailsTheCheck() throws Exception {
        NettyLeaks.assertNoLeaks(); // nothing before
        leak();
        AssertionError e = assertThrows(AssertionError.class, NettyLeaks::assertNoLeaks);
        assertTrue(e.getMessage().contains("leak"), e.getMessage());
        assertTrue(e.getMessage().contains("NettyLeaksTest.leak"), "the report names where it was allocated: "
                + e.getMessage());
        NettyLeaks.assertNoLeaks(); // the report was taken: the next check starts clean
    }

    private static void leak() {
        ByteBuf lost = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        lost.writeLong(42);
    }
}
