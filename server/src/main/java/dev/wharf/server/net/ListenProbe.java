package dev.wharf.server.net;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/**
 * A plain bind of a listen address before its {@code SO_REUSEPORT} listeners are bound. Without it a second wharf
 * (or any process of the same user that also sets the option) on a port already in use would share the port and
 * take some of its connections, where a bind is expected to fail. The probe has no {@code SO_REUSEPORT}, so it fails
 * while anything listens there; for port 0 it picks the port the listeners then take. Between the probe's close and
 * the listeners' bind another process could take the port: then their bind fails as before, or (if that process also
 * set the option) shares it, a window of microseconds at start-up.
 */
public final class ListenProbe {
    private ListenProbe() {
    }

    /**
     * The port of {@code address} (the one the kernel picked for port 0), after a plain bind that succeeded there.
     *
     * @throws BindException when something listens there already, as a plain bind would
     */
    public static int claim(InetSocketAddress address) throws IOException {
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(address, 1);
            return probe.getLocalPort();
        } catch (BindException e) {
            BindException named = new BindException("cannot listen on " + address + ": " + e.getMessage());
            named.initCause(e);
            throw named;
        }
    }
}
