package dev.wharf.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderOperationsTest {
    @Test
    void operationsKeysParse() {
        WharfConfig c = ConfigLoader.parse("""
                storage:
                  path: /s
                  maxSize: 100GiB
                  highWatermark: 0.9
                  lowWatermark: 0.8
                retention:
                  unusedFor: 7d
                admin:
                  listen: 127.0.0.1:5001
                  token: ${ADMIN_TOKEN}
                accessLog:
                  enabled: false
                  path: /var/log/wharf/access.log
                  level: warn
                egress:
                  proxy: http://proxy.internal:3128
                  noProxy: [localhost, .internal]
                projects:
                  - name: hub
                    upstreams: [https://mirror.gcr.io, https://registry-1.docker.io]
                  - name: ecr
                    upstream: https://123456789012.dkr.ecr.eu-west-1.amazonaws.com
                    insecureSkipVerify: true
                    visibility: public
                    ecr:
                      endpoint: http://127.0.0.1:4566
                      accessKeyId: AKIDEXAMPLE
                      secretAccessKey: ${AWS_SECRET}
                """, "t.yaml", Map.of("ADMIN_TOKEN", "0123456789abcdef-token", "AWS_SECRET", "wJalrXUtnFEMI")::get);
        OperationsConfig o = c.operations();
        assertEquals(100L << 30, o.maxSize());
        assertEquals(0.9, o.highWatermark());
        assertEquals(0.8, o.lowWatermark());
        assertEquals(Duration.ofDays(7), o.unusedFor());
        assertEquals(new HostPort("127.0.0.1", 5001), o.adminListen());
        assertEquals("0123456789abcdef-token", o.adminToken());
        assertFalse(o.accessLog());
        assertEquals("/var/log/wharf/access.log", o.accessLogFile().toString());
        assertEquals("warn", o.accessLogLevel());
        assertEquals("http://proxy.internal:3128", o.egressProxy());
        assertEquals(List.of("localhost", ".internal"), o.noProxy());
        ProjectConfig hub = c.projects().get(0);
        assertEquals(List.of(URI.create("https://mirror.gcr.io"), URI.create("https://registry-1.docker.io")), hub.upstreams());
        assertEquals(URI.create("https://mirror.gcr.io"), hub.upstream());
        ProjectConfig ecr = c.projects().get(1);
        assertTrue(ecr.insecureSkipVerify());
        assertEquals("AKIDEXAMPLE", ecr.ecr().accessKeyId());
        assertEquals(URI.create("http://127.0.0.1:4566"), ecr.ecr().endpoint());
        assertNull(ecr.ecr().region());
        assertFalse(c.toString().contains("wJalrXUtnFEMI"), "secrets must not be printed");
        assertFalse(c.toString().contains("0123456789abcdef-token"), "secrets must not be printed");
    }

    @Test
    void defaultsWhenAbsent() {
        WharfConfig c = ConfigLoader.parse("projects: [{name: a, upstream: 'http://x'}]", "t");
        assertEquals(OperationsConfig.DEFAULTS, c.operations());
        assertEquals(List.of(URI.create("http://x")), c.projects().get(0).upstreams());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "storage: {maxSize: lots}                              | key 'storage.maxSize'",
            "storage: {highWatermark: 0.5, lowWatermark: 0.7}      | key 'storage.lowWatermark' must be below",
            "storage: {highWatermark: 2}                           | key 'storage.highWatermark'",
            "retention: {unusedFor: forever}                       | key 'retention.unusedFor'",
            "retention: {keep: 1d}                                 | key 'retention.keep' is not a known key",
            "admin: {token: short}                                 | key 'admin.token' must be at least 16",
            "admin: {listen: x}                                    | key 'admin.listen'",
            "accessLog: {enabled: maybe}                           | key 'accessLog.enabled'",
            "accessLog: {level: debug}                             | key 'accessLog.level' must be info, warn or error",
            "egress: {proxy: 'socks://x'}                          | key 'egress.proxy'",
            "projects: [{name: a, upstream: 'http://x', upstreams: ['http://y']}] | key 'projects[0].upstreams' cannot be used together",
            "projects: [{name: a, upstreams: []}]                  | key 'projects[0].upstreams' must list at least one",
            "projects: [{name: a, upstream: 'http://x', ecr: {accessKeyId: a}}] | key 'projects[0].ecr' accessKeyId and secretAccessKey",
            "projects: [{name: a, upstream: 'http://x', ecr: {zone: a}}]        | key 'projects[0].ecr.zone' is not a known key",
            "projects: [{name: a, upstream: 'http://x', insecureSkipVerify: yes please}] | key 'projects[0].insecureSkipVerify'",
    })
    void badOperationsKeys(String yaml, String expected) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "bad.yaml", Map.<String, String>of()::get));
        assertTrue(e.getMessage().contains("bad.yaml") && e.getMessage().contains(expected), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"1024, 1024", "1KiB, 1024", "512MiB, 536870912", "100GiB, 107374182400", "1TiB, 1099511627776", "10GB, 10000000000"})
    void sizes(String text, long bytes) {
        assertEquals(bytes, ConfigLoader.parseSize(text));
    }
}
