package dev.wharf.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.storage.s3.S3Settings;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code storage.s3}: every key parses, bad values stop start-up naming the key and file, the secret stays out of logs. */
class ConfigLoaderS3Test {
    @TempDir
    Path tmp;

    @Test
    void everyKeyParses() throws Exception {
        Path secret = tmp.resolve("s3-secret");
        Files.writeString(secret, "s3cr3t-value\n");
        WharfConfig c = ConfigLoader.parse("""
                storage:
                  path: /var/lib/wharf
                  s3:
                    endpoint: http://127.0.0.1:8333
                    bucket: wharf
                    region: eu-west-1
                    pathStyle: true
                    prefix: prod/eu/
                    accessKey: wharf
                    secretKeyFile: %s
                    redirect: true
                """.formatted(secret), "t.yaml", Map.<String, String>of()::get);
        S3Settings s3 = c.s3();
        assertEquals(URI.create("http://127.0.0.1:8333"), s3.endpoint());
        assertEquals("wharf", s3.bucket());
        assertEquals("eu-west-1", s3.region());
        assertTrue(s3.pathStyle());
        assertEquals("prod/eu/", s3.prefix());
        assertEquals("wharf", s3.accessKey());
        assertEquals("s3cr3t-value", s3.secretKey());
        assertTrue(s3.redirect());
        assertFalse(s3.toString().contains("s3cr3t"), s3.toString());
    }

    @Test
    void defaultsAndTheDefaultCredentialChain() {
        WharfConfig c = ConfigLoader.parse("storage: {s3: {bucket: my-bucket}}", "t.yaml", Map.<String, String>of()::get);
        assertNull(c.s3().endpoint());
        assertEquals("us-east-1", c.s3().region());
        assertEquals("", c.s3().prefix());
        assertNull(c.s3().accessKey(), "no accessKey: the SDK's default chain");
        assertFalse(c.s3().pathStyle());
        assertFalse(c.s3().redirect());
        assertNull(ConfigLoader.parse("storage: {path: /s}", "t.yaml", Map.<String, String>of()::get).s3());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "storage: {s3: {endpoint: 'http://x'}}                  | key 'storage.s3.bucket' is required",
            "storage: {s3: {bucket: Bad_Name}}                      | key 'storage.s3.bucket'",
            "storage: {s3: {bucket: b12, zone: a}}                  | key 'storage.s3.zone' is not a known key",
            "storage: {s3: {bucket: b12, endpoint: 'ftp://x'}}      | key 'storage.s3.endpoint'",
            "storage: {s3: {bucket: b12, prefix: prod}}             | key 'storage.s3.prefix'",
            "storage: {s3: {bucket: b12, prefix: '../x/'}}          | key 'storage.s3.prefix'",
            "storage: {s3: {bucket: b12, prefix: 'a//'}}            | key 'storage.s3.prefix'",
            "storage: {s3: {bucket: b12, accessKey: a}}             | key 'storage.s3.secretKeyFile'",
            "storage: {s3: {bucket: b12, secretKey: a}}             | key 'storage.s3.accessKey'",
            "storage: {s3: {bucket: b12, pathStyle: yes please}}    | key 'storage.s3.pathStyle'",
            "storage: {s3: {bucket: b12, region: 'Eu West'}}        | key 'storage.s3.region'",
            "storage: {s3: {bucket: b12, secretKeyFile: /nonexistent/s, accessKey: a}} | key 'storage.s3.secretKeyFile'",
    })
    void badValuesStopStartUp(String yaml, String expected) {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(yaml, "bad.yaml", Map.<String, String>of()::get));
        assertTrue(e.getMessage().contains("bad.yaml") && e.getMessage().contains(expected), e.getMessage());
    }
}
