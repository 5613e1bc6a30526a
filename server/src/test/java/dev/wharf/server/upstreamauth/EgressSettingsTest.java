package dev.wharf.server.upstreamauth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.Exec;
import dev.wharf.testing.WharfProcess;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A proxy wharf cannot use stops start-up with exit code 2 and a message naming where it came from, whether the
 * config or the environment; a usable one is logged at start-up.
 */
class EgressSettingsTest {
    private static final URI UPSTREAM = URI.create("https://registry-1.docker.io");

    @Test
    void aTlsProxyFromTheEnvironmentIsAConfigError() {
        Exec.Result r = WharfProcess.builder().project("hub", UPSTREAM)
                .env("HTTPS_PROXY", "https://proxy.corp.example:3129")
                .runExpectingExit(Duration.ofSeconds(60));
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().contains("HTTPS_PROXY: only http:// proxies"), r.output());
        assertFalse(r.output().contains("Exception"), "a message, not a stack trace: " + r.output());
    }

    @Test
    void proxyCredentialsInTheEnvironmentAreRefusedWithoutEchoingThem() {
        Exec.Result r = WharfProcess.builder().project("hub", UPSTREAM)
                .env("https_proxy", "http://alice:pr0xy-s3cret@proxy.corp.example:3128")
                .runExpectingExit(Duration.ofSeconds(60));
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().contains("https_proxy: proxy authentication"), r.output());
        assertFalse(r.output().contains("pr0xy-s3cret"), r.output());
    }

    @Test
    void theProxyInUseIsLoggedAtStartUp() {
        try (WharfProcess wharf = WharfProcess.builder().project("hub", UPSTREAM)
                .extraYaml("egress:\n  proxy: http://proxy.corp.example:3128\n  noProxy: [.corp.example]\n")
                .env("HTTPS_PROXY", "http://ignored.example:1")
                .start()) {
            assertTrue(wharf.log().contains("go through proxy http://proxy.corp.example:3128 (direct: .corp.example) "
                    + "(from egress.proxy)"), wharf.log());
        }
    }
}
