package dev.wharf.testing;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Installs {@link NettyLeaks} when the JUnit launcher session opens: before any test class, and so before any Netty
 * buffer class, is loaded in the surefire JVM. Registered in META-INF/services.
 */
public final class NettyLeakListener implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
        NettyLeaks.install();
    }
}
