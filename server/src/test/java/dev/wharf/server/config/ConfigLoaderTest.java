package dev.wharf.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderTest {

    @Test
    void embeddedDefaultsHaveTheContractProjects() {
        WharfConfig c = ConfigLoader.defaults();
        assertEquals(new HostPort("0.0.0.0", 5000), c.listen());
        assertEquals("./data", c.storagePath().toString());
        assertEquals("docker.io", c.defaultProject());
        assertEquals(List.of("docker.io", "ghcr.io", "quay.io", "gcr.io", "registry.k8s.io", "public.ecr.aws",
                "mcr.microsoft.com"), c.projects().stream().map(ProjectConfig::name).toList());
        assertTrue(c.projects().get(0).isDockerHub());
    }

    @Test
    void aProjectStandsForDockerHubByUpstreamNameAliasOrDockerHubKey() {
        WharfConfig c = ConfigLoader.parse("""
                projects:
                  - name: hub
                    upstream: https://registry-1.docker.io
                  - name: docker.io
                    upstream: https://mirror.gcr.io
                  - name: mirror
                    upstream: https://mirror.example.com
                    aliases: [docker.io]
                  - name: harborhub
                    upstream: https://harbor.example.com/v2/dockerhub
                    dockerHub: true
                  - name: quay
                    upstream: https://quay.io
                    dockerHub: false
                """, "t");
        assertEquals(List.of(true, true, true, true, false),
                c.projects().stream().map(ProjectConfig::isDockerHub).toList());
        ConfigException bad = assertThrows(ConfigException.class, () -> ConfigLoader.parse("""
                projects:
                  - name: hub
                    upstream: https://harbor.example.com
                    dockerHub: yes please
                """, "t"));
        assertTrue(bad.getMessage().contains("projects[0].dockerHub"), bad.getMessage());
    }

    @Test
    void fullConfigParses() {
        WharfConfig c = ConfigLoader.parse("""
                listen: 127.0.0.1:5001
                storage:
                  path: /var/lib/wharf
                defaultProject: dockerhub
                projects:
                  - name: dockerhub
                    upstream: https://registry-1.docker.io
                    aliases: [docker.io]
                    tagTtl: 1h30m
                  - name: harbor
                    upstream: https://harbor.example.com/v2/dockerhub
                """, "t.yaml");
        assertEquals(new HostPort("127.0.0.1", 5001), c.listen());
        assertEquals("/var/lib/wharf", c.storagePath().toString());
        assertEquals(Duration.ofMinutes(90), c.projects().get(0).tagTtl());
        assertEquals(List.of("docker.io"), c.projects().get(0).aliases());
        assertEquals(Duration.ofMinutes(5), c.projects().get(1).tagTtl());
        assertEquals("/v2/dockerhub", c.projects().get(1).upstream().getPath());
    }

    @Test
    void transportIsAutoUnlessSet() {
        String projects = "projects:\n  - name: a\n    upstream: http://127.0.0.1:1\n";
        assertEquals("auto", ConfigLoader.parse(projects, "t.yaml").transport());
        assertEquals("nio", ConfigLoader.parse("transport: nio\n" + projects, "t.yaml").transport());
        assertEquals("epoll", ConfigLoader.parse("transport: epoll\n" + projects, "t.yaml").transport());
    }

    @Test
    void defaultProjectIsOptional() {
        WharfConfig c = ConfigLoader.parse("projects:\n  - name: a\n    upstream: http://127.0.0.1:1\n", "t.yaml");
        assertNull(c.defaultProject());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "listn: 1.2.3.4:5                                              | key 'listn' is not a known key",
            "listen: nope                                                  | key 'listen'",
            "storage: {pth: x}                                             | key 'storage.pth' is not a known key",
            "projects: [{name: a, upstream: 'ftp://x'}]                    | key 'projects[0].upstream'",
            "projects: [{name: a}]                                         | key 'projects[0].upstream' is required",
            "projects: [{upstream: 'http://x'}]                            | key 'projects[0].name' is required",
            "projects: [{name: A, upstream: 'http://x'}]                   | key 'projects[0].name'",
            "projects: [{name: a, upstream: 'http://x', tagTtl: 5 minutes}]| key 'projects[0].tagTtl'",
            "projects: [{name: a, upstream: 'http://x', colour: red}]      | key 'projects[0].colour' is not a known key",
            "projects: [{name: a, upstream: 'http://u:p@x'}]               | key 'projects[0].upstream' must not carry credentials",
            "projects: [{name: a, upstream: 'http://x'}, {name: a, upstream: 'http://y'}] | key 'projects[1].name'",
            "defaultProject: nope                                          | key 'defaultProject' names 'nope'",
            "projects: {name: a}                                           | key 'projects' must be a list",
            "transport: kqueue                                             | key 'transport' must be one of auto, epoll, nio",
    })
    void badConfigNamesTheKeyAndTheFile(String yaml, String expected) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "bad.yaml"));
        assertTrue(e.getMessage().contains("bad.yaml"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void credentialsFromEnvironmentAndFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path secret = dir.resolve("pw");
        java.nio.file.Files.writeString(secret, "from-file\n");
        WharfConfig c = ConfigLoader.parse("""
                projects:
                  - name: a
                    upstream: https://x
                    username: ${USER_A}
                    password: pre-${PW_A}-post
                    visibility: public
                  - name: b
                    upstream: https://y
                    username: bob
                    passwordFile: %s
                    visibility: public
                """.formatted(secret), "t.yaml", java.util.Map.of("USER_A", "alice", "PW_A", "s3cret")::get);
        assertEquals("alice", c.projects().get(0).username());
        assertEquals("pre-s3cret-post", c.projects().get(0).password());
        assertEquals("from-file", c.projects().get(1).password());
        assertTrue(!c.projects().get(0).toString().contains("s3cret"), c.projects().get(0).toString());
        assertTrue(!c.toString().contains("from-file"), "a config's string form must not show secrets");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "projects: [{name: a, upstream: 'http://x', username: u, password: '${NOPE_UNSET_VAR}'}] | key 'projects[0].password' refers to environment variable NOPE_UNSET_VAR",
            "projects: [{name: a, upstream: 'http://x', password: p}]                                | key 'projects[0].username' is required",
            "projects: [{name: a, upstream: 'http://x', username: u}]                                | key 'projects[0].password' is required",
            "projects: [{name: a, upstream: 'http://x', username: u, passwordFile: /nonexistent/x}]  | key 'projects[0].passwordFile'",
            "projects: [{name: a, upstream: 'http://x', username: u, password: p, passwordFile: f}]  | cannot be used together",
    })
    void badCredentials(String yaml, String expected) {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse(yaml, "bad.yaml", java.util.Map.<String, String>of()::get));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(!e.getMessage().contains("p,") && !e.getMessage().contains("'p'"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"500ms, 500", "30s, 30000", "5m, 300000", "1h, 3600000", "7d, 604800000", "1h30m, 5400000"})
    void durations(String text, long millis) {
        assertEquals(millis, ConfigLoader.parseDuration(text).toMillis());
    }

    @Test
    void badDurations() {
        for (String s : List.of("", "5", "m", "5 m", "-5m", "5y", "1.5h")) {
            assertThrows(IllegalArgumentException.class, () -> ConfigLoader.parseDuration(s), s);
        }
    }
}
