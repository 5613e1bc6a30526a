package dev.wharf.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code auth:}, {@code projects[].visibility} and {@code pull}, and what they do to {@code admin.listen}. */
class AuthConfigTest {
    private static WharfConfig parse(String yaml) {
        return ConfigLoader.parse(yaml, "t.yaml", n -> null);
    }

    @Test
    void aPrivateProjectWithoutAuthStopsStartUpNamingTheProjectAndBothWaysOut() {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("""
                projects:
                  - {name: open, upstream: 'https://a.example'}
                  - {name: hub, upstream: 'https://b.example', username: u, password: p}
                """));
        String m = e.getMessage();
        assertTrue(m.contains("t.yaml") && m.contains("project 'hub' is private"), m);
        assertTrue(m.contains("upstream credentials"), m);
        assertTrue(m.contains("auth.htpasswd") && m.contains("projects[1].visibility: public"), m);
        ConfigException explicit = assertThrows(ConfigException.class, () -> parse("""
                projects: [{name: x, upstream: 'https://a.example', visibility: private}]
                """));
        assertTrue(explicit.getMessage().contains("project 'x' is private"), explicit.getMessage());
    }

    @Test
    void credentialsMakeAProjectPrivateUnlessItSaysPublic() {
        WharfConfig c = parse("""
                auth: {htpasswd: /etc/wharf/htpasswd}
                projects:
                  - {name: a, upstream: 'https://a.example', username: u, password: p, pull: [ci]}
                  - {name: b, upstream: 'https://b.example', username: u, password: p, visibility: public}
                  - {name: c, upstream: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com'}
                  - {name: d, upstream: 'https://d.example'}
                """);
        assertTrue(c.projects().get(0).isPrivate());
        assertEquals(List.of("ci"), c.projects().get(0).pull());
        assertTrue(!c.projects().get(1).isPrivate());
        assertTrue(c.projects().get(2).isPrivate(), "an ECR host implies ECR credentials");
        assertTrue(!c.projects().get(3).isPrivate());
    }

    @Test
    void withAuthTheAdminEndpointsMoveOffThePublicPortUnlessTheOperatorSaysRegistry() {
        String projects = "projects: [{name: a, upstream: 'https://a.example'}]\n";
        assertEquals(new HostPort("127.0.0.1", 5001),
                parse("auth: {htpasswd: h}\n" + projects).operations().adminListen());
        assertNull(parse("auth: {htpasswd: h}\nadmin: {listen: registry}\n" + projects).operations().adminListen());
        assertEquals(new HostPort("127.0.0.1", 9999),
                parse("auth: {htpasswd: h}\nadmin: {listen: '127.0.0.1:9999'}\n" + projects).operations()
                        .adminListen());
        assertNull(parse(projects).operations().adminListen(), "without auth nothing moves");
    }

    @Test
    void authKeysParseAndBadValuesNameTheirKey() {
        AuthConfig a = parse("""
                auth:
                  htpasswd: h
                  groups: {ci: ['robot$ci', bob]}
                  admins: [alice]
                  tokenTtl: 10m
                  failedLogins: {burst: 3, refill: 1m}
                  auditLog: stderr
                  oidc: {issuer: 'https://dex.example', clientId: wharf, groups: {platform: [ci]}}
                """).auth();
        assertEquals(List.of("robot$ci", "bob"), a.groups().get("ci"));
        assertEquals(Duration.ofMinutes(10), a.tokenTtl());
        assertEquals(3, a.failedLoginBurst());
        assertEquals(Duration.ofMinutes(1), a.failedLoginRefill());
        assertEquals("groups", a.oidc().groupsClaim());
        assertEquals(List.of("ci"), a.oidc().groups().get("platform"));
        for (String[] bad : new String[][] {
                {"auth: {groups: {}}", "key 'auth' needs htpasswd or oidc"},
                {"auth: {htpasswd: h, tokenTtl: 1s}", "key 'auth.tokenTtl'"},
                {"auth: {htpasswd: h, failedLogins: {burst: 0}}", "key 'auth.failedLogins.burst'"},
                {"auth: {htpasswd: h, admins: ['a b']}", "key 'auth.admins[0]'"},
                {"auth: {htpasswd: h, oidc: {clientId: x}}", "key 'auth.oidc.issuer' is required"},
                {"auth: {htpasswd: h, zone: 1}", "key 'auth.zone' is not a known key"},
                {"projects: [{name: a, upstream: 'https://a', visibility: secret}]", "key 'projects[0].visibility'"},
                {"projects: [{name: a, upstream: 'https://a', pull: [x]}]", "key 'projects[0].pull' has no effect"},
        }) {
            ConfigException e = assertThrows(ConfigException.class, () -> parse(bad[0]), bad[0]);
            assertTrue(e.getMessage().contains(bad[1]), e.getMessage());
        }
    }
}
