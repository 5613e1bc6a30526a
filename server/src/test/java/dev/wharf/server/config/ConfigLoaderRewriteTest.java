package dev.wharf.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The {@code rewrite:} section: harbor-container-webhook's rule keys, and the errors that stop start-up. */
class ConfigLoaderRewriteTest {
    private static final String PROJECTS = "projects:\n  - name: hub\n    upstream: https://registry-1.docker.io\n";

    @Test
    void rulesParseInOrder() {
        WharfConfig c = ConfigLoader.parse(PROJECTS + """
                rewrite:
                  rules:
                    - name: docker-hub
                      matches: ['^docker.io/']
                      excludes: ['^docker.io/(library/)?ubuntu:.*$']
                      replace: 'wharf.example.com/docker.io/'
                      checkUpstream: false
                    - name: quay
                      matches: ['^quay.io/', '^ghcr.io/']
                      replace: 'wharf.example.com:8443/quay.io'
                      checkUpstream: true
                """, "rw.yaml");
        var rules = c.rewrite().rules();
        assertEquals(2, rules.size());
        RewriteConfig.Rule hub = rules.get(0);
        assertEquals("docker-hub", hub.name());
        assertEquals("wharf.example.com/docker.io", hub.replace(), "the trailing slash is dropped");
        assertEquals(1, hub.matches().size());
        assertEquals("^docker.io/(library/)?ubuntu:.*$", hub.excludes().get(0).pattern());
        assertFalse(hub.checkUpstream());
        RewriteConfig.Rule quay = rules.get(1);
        assertEquals(2, quay.matches().size());
        assertTrue(quay.excludes().isEmpty());
        assertTrue(quay.checkUpstream());
        assertEquals("wharf.example.com:8443/quay.io", quay.replace());
    }

    @Test
    void noSectionMeansNoRules() {
        assertTrue(ConfigLoader.parse(PROJECTS, "rw.yaml").rewrite().rules().isEmpty());
        assertTrue(ConfigLoader.defaults().rewrite().rules().isEmpty());
        assertTrue(ConfigLoader.parse(PROJECTS + "rewrite: {}\n", "rw.yaml").rewrite().rules().isEmpty());
    }

    @Test
    void aRuleWithoutANameIsNamedByItsPlace() {
        WharfConfig c = ConfigLoader.parse(PROJECTS + "rewrite:\n  rules:\n    - matches: ['x']\n      replace: localhost:5000\n",
                "rw.yaml");
        assertEquals("rewrite.rules[0]", c.rewrite().rules().get(0).name());
        Pattern p = c.rewrite().rules().get(0).matches().get(0);
        assertEquals("x", p.pattern());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "rewrite: {rules: [{matches: ['x'], replace: 'a.b', color: red}]}|key 'rewrite.rules[0].color' is not a known key",
        "rewrite: {rule: []}|key 'rewrite.rule' is not a known key",
        "rewrite: {rules: {a: 1}}|key 'rewrite.rules' must be a list of rules",
        "rewrite: {rules: [{matches: ['ok', '(unclosed'], replace: 'a.b'}]}|key 'rewrite.rules[0].matches[1]' is not a valid regex",
        "rewrite: {rules: [{matches: ['x'], excludes: ['[z'], replace: 'a.b'}]}|key 'rewrite.rules[0].excludes[0]' is not a valid regex",
        "rewrite: {rules: [{replace: 'a.b'}]}|key 'rewrite.rules[0].matches' is required",
        "rewrite: {rules: [{matches: [], replace: 'a.b'}]}|key 'rewrite.rules[0].matches' must hold at least one regex",
        "rewrite: {rules: [{matches: '^docker.io', replace: 'a.b'}]}|key 'rewrite.rules[0].matches' must be a list of strings",
        "rewrite: {rules: [{matches: ['x']}]}|key 'rewrite.rules[0].replace' is required",
        "rewrite: {rules: [{matches: ['x'], replace: 'wharf/docker.io'}]}|key 'rewrite.rules[0].replace' 'wharf/docker.io' must start with a registry host",
        "rewrite: {rules: [{matches: ['x'], replace: 'https://wharf.example.com'}]}|key 'rewrite.rules[0].replace'",
        "rewrite: {rules: [{matches: ['x'], replace: 'a.b/Upper'}]}|invalid path component 'Upper'",
        "rewrite: {rules: [{matches: ['x'], replace: 'a.b', checkUpstream: 'yes'}]}|key 'rewrite.rules[0].checkUpstream' must be true or false",
    })
    void badRulesNameTheKeyAndTheFile(String yaml, String expected) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(PROJECTS + yaml, "bad.yaml"));
        assertTrue(e.getMessage().contains("bad.yaml"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
