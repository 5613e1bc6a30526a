package dev.wharf.server.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.resolver.AddressResolver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The connect-time half of the redirect guard (issue 8 item 6, DNS rebinding): a host name whose answer now holds a
 * link-local or metadata address is refused when the connection resolves it, even if it answered a public address
 * when the redirect was judged. The DNS answers come from a scripted lookup: no resolver here can be made to change
 * its answer for a name between two look-ups, which is the attack.
 */
class ConnectTimeGuardTest {
    private static InetAddress ip(String s) throws UnknownHostException {
        return InetAddress.getByName(s); // literals only: no DNS
    }

    @Test
    void aNameThatNowResolvesToTheMetadataAddressIsRefusedAtConnectTime() throws Exception {
        InetAddress[][] answer = {{ip("93.184.216.34")}};
        String[] lookedUpOn = new String[1];
        java.util.concurrent.ExecutorService lookups = java.util.concurrent.Executors.newSingleThreadExecutor(
                r -> new Thread(r, "test-lookups"));
        ConnectTimeGuard guard = new ConnectTimeGuard(host -> {
            lookedUpOn[0] = Thread.currentThread().getName();
            return answer[0];
        }, lookups);
        NioEventLoopGroup group = new NioEventLoopGroup(1);
        try {
            AddressResolver<InetSocketAddress> r = guard.getResolver(group.next());
            InetSocketAddress first = r.resolve(InetSocketAddress.createUnresolved("rebind.example", 443))
                    .get(5, TimeUnit.SECONDS);
            assertEquals("93.184.216.34", first.getAddress().getHostAddress());
            assertEquals("test-lookups", lookedUpOn[0], "the look-up ran on the event loop, not the executor");
            answer[0] = new InetAddress[] {ip("169.254.169.254")}; // the rebinding answer
            ExecutionException e = assertThrows(ExecutionException.class, () -> r.resolve(
                    InetSocketAddress.createUnresolved("rebind.example", 443)).get(5, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof UnknownHostException, e.toString());
            assertTrue(e.getCause().getMessage().contains("169.254.169.254"), e.getCause().getMessage());
        } finally {
            guard.close();
            lookups.shutdownNow();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void oneForbiddenAddressAmongSeveralRefusesTheName() {
        ConnectTimeGuard.Lookup lookup = host -> new InetAddress[] {ip("10.0.0.5"), ip("fd00:ec2::254")};
        assertThrows(UnknownHostException.class, () -> ConnectTimeGuard.checked(lookup, "mixed.example"));
        ConnectTimeGuard.Lookup linkLocal6 = host -> new InetAddress[] {ip("fe80::1")};
        assertThrows(UnknownHostException.class, () -> ConnectTimeGuard.checked(linkLocal6, "ll.example"));
    }

    @Test
    void loopbackPrivateAndLiteralAddressesPass() throws Exception {
        assertEquals(1, ConnectTimeGuard.checked(host -> new InetAddress[] {ip("127.0.0.1")}, "localhost").size());
        assertEquals(1, ConnectTimeGuard.checked(host -> new InetAddress[] {ip("192.168.1.9")}, "lan.example")
                .size());
        // A literal is the operator's (or the redirect guard's) decision, not DNS's.
        assertEquals(1, ConnectTimeGuard.checked(host -> new InetAddress[] {ip("169.254.169.254")},
                "169.254.169.254").size());
    }
}
