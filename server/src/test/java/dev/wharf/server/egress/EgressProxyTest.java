package dev.wharf.server.egress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.URI;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link EgressProxy}: where the outbound proxy comes from ({@code egress.proxy}, then the environment's
 * HTTPS_PROXY/HTTP_PROXY), which proxy URLs are refused and why, and which hosts bypass it (names, domain suffixes,
 * IP literals, CIDR blocks, {@code *}), for the upstream connections and the token client's selector alike.
 */
class EgressProxyTest {

    @Test
    void configWinsOverTheEnvironment() {
        EgressProxy p = EgressProxy.resolve("http://proxy.corp:3128", List.of(".corp"),
                Map.of("HTTPS_PROXY", "http://other:8080", "NO_PROXY", "*"));
        assertEquals("proxy.corp", p.host());
        assertEquals(3128, p.port());
        assertEquals(List.of(".corp"), p.noProxy());
        assertTrue(p.appliesTo("registry-1.docker.io"));
        assertFalse(p.appliesTo("harbor.corp"));
        assertTrue(p.appliesTo("127.0.0.1"), "a configured proxy is taken literally, loopback included");
    }

    @Test
    void environmentVariablesInOrder() {
        assertNull(EgressProxy.resolve(null, null, Map.of()));
        assertEquals("a", EgressProxy.resolve(null, null, Map.of("HTTPS_PROXY", "http://a:1",
                "https_proxy", "http://b:2", "HTTP_PROXY", "http://c:3")).host());
        assertEquals("b", EgressProxy.resolve(null, null, Map.of("https_proxy", "http://b:2",
                "HTTP_PROXY", "http://c:3")).host());
        assertEquals("c", EgressProxy.resolve(null, null, Map.of("HTTP_PROXY", "http://c:3",
                "http_proxy", "http://d:4")).host());
        EgressProxy bare = EgressProxy.resolve(null, null, Map.of("http_proxy", "squid.corp:3128"));
        assertEquals("squid.corp", bare.host());
        assertEquals(3128, bare.port());
        assertEquals(80, EgressProxy.resolve(null, null, Map.of("HTTPS_PROXY", "http://p/")).port());
        assertNull(EgressProxy.resolve(" ", null, Map.of()), "blank config and no environment: no proxy");
    }

    @Test
    void noProxyFromTheEnvironmentAndLoopbackAlwaysDirect() {
        EgressProxy p = EgressProxy.resolve(null, null, Map.of("HTTPS_PROXY", "http://p:3128",
                "no_proxy", " .svc , 10.0.0.0/8,registry.corp:5000,[fd00::1]"));
        assertFalse(p.appliesTo("registry.ns.svc"));
        assertFalse(p.appliesTo("10.1.2.3"));
        assertTrue(p.appliesTo("11.1.2.3"));
        assertFalse(p.appliesTo("registry.corp"), "a :port in NO_PROXY is ignored");
        assertFalse(p.appliesTo("fd00::1"));
        assertFalse(p.appliesTo("[fd00:0:0::1]"));
        assertFalse(p.appliesTo("localhost"));
        assertFalse(p.appliesTo("127.0.0.1"));
        assertFalse(p.appliesTo("127.1.2.3"));
        assertFalse(p.appliesTo("::1"));
        assertTrue(p.appliesTo("ghcr.io"));
        assertTrue(p.appliesTo("999.1.1.1"), "not an address: a name, matched by name only");

        EgressProxy upper = EgressProxy.resolve(null, null, Map.of("HTTPS_PROXY", "http://p:3128",
                "NO_PROXY", "*.example.com", "no_proxy", "ignored.example"));
        assertFalse(upper.appliesTo("a.example.com"));
        assertTrue(upper.appliesTo("ignored.example"), "NO_PROXY is read before no_proxy");
    }

    @Test
    void cidrBlocksMatchAddressesOnly() {
        EgressProxy p = new EgressProxy("p", 1, List.of("192.168.0.0/16", "fd00::/8", "10.0.0.0/33", "x/8"));
        assertFalse(p.appliesTo("192.168.44.1"));
        assertTrue(p.appliesTo("192.169.0.1"));
        assertFalse(p.appliesTo("fd12:3456::1"));
        assertTrue(p.appliesTo("fe80::1"));
        assertTrue(p.appliesTo("10.0.0.1"), "an invalid prefix length matches nothing");
        assertTrue(p.appliesTo("192.168.example.com"));
    }

    @Test
    void unusableProxyUrlsAreRefusedNamingTheirSource() {
        IllegalArgumentException https = assertThrows(IllegalArgumentException.class,
                () -> EgressProxy.resolve(null, null, Map.of("HTTPS_PROXY", "https://p:443")));
        assertTrue(https.getMessage().startsWith("HTTPS_PROXY:"), https.getMessage());
        IllegalArgumentException auth = assertThrows(IllegalArgumentException.class,
                () -> EgressProxy.resolve("http://user:s3cret@p:3128", null, Map.of()));
        assertTrue(auth.getMessage().startsWith("egress.proxy:"), auth.getMessage());
        assertFalse(auth.getMessage().contains("s3cret"), "the password is never echoed");
        assertThrows(IllegalArgumentException.class,
                () -> EgressProxy.resolve(null, null, Map.of("http_proxy", "http://p:3128/path")));
    }

    @Test
    void selectorAgreesWithAppliesTo() {
        EgressProxy p = new EgressProxy("proxy.corp", 3128, List.of(".internal"));
        List<Proxy> via = p.selector().select(URI.create("https://auth.docker.io/token"));
        assertEquals(1, via.size());
        assertEquals(Proxy.Type.HTTP, via.get(0).type());
        InetSocketAddress a = (InetSocketAddress) via.get(0).address();
        assertEquals("proxy.corp", a.getHostString());
        assertEquals(3128, a.getPort());
        assertEquals(List.of(Proxy.NO_PROXY), p.selector().select(URI.create("https://harbor.internal/service/token")));
    }

    @Test
    void noProxyMatching() {
        EgressProxy p = new EgressProxy("proxy", 3128, List.of(".internal.example", "localhost", " Reg.Corp "));
        assertTrue(p.appliesTo("registry-1.docker.io"));
        assertFalse(p.appliesTo("harbor.internal.example"));
        assertFalse(p.appliesTo("internal.example"));
        assertFalse(p.appliesTo("localhost"));
        assertFalse(p.appliesTo("reg.corp"));
        assertTrue(p.appliesTo("notinternal.example"));
        assertFalse(new EgressProxy("proxy", 3128, List.of("*")).appliesTo("anything"));
    }
}
