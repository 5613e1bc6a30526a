package dev.wharf.auth.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ChallengeTest {

    @Test
    void dockerHubBearer() {
        List<Challenge> cs = Challenge.parse("Bearer realm=\"https://auth.docker.io/token\","
                + "service=\"registry.docker.io\",scope=\"repository:library/nginx:pull\"");
        assertEquals(1, cs.size());
        Challenge c = cs.get(0);
        assertEquals("bearer", c.scheme());
        assertEquals("https://auth.docker.io/token", c.realm());
        assertEquals("registry.docker.io", c.service());
        assertEquals("repository:library/nginx:pull", c.scope());
    }

    @Test
    void severalChallengesAndCommasInsideQuotes() {
        List<Challenge> cs = Challenge.parse("Basic realm=\"basic, realm\", Bearer realm=\"https://a/token\","
                + " service=\"s\", scope=\"repository:a:pull,push repository:b:pull\"");
        assertEquals(2, cs.size());
        assertEquals("basic", cs.get(0).scheme());
        assertEquals(Map.of("realm", "basic, realm"), cs.get(0).params());
        assertEquals("bearer", cs.get(1).scheme());
        assertEquals("https://a/token", cs.get(1).realm());
        assertEquals("s", cs.get(1).service());
        assertEquals("repository:a:pull,push repository:b:pull", cs.get(1).scope());
    }

    @Test
    void escapesInQuotedStrings() {
        Challenge c = Challenge.parse("Bearer realm=\"a\\\"b\\\\c\",error=\"insufficient_scope\"").get(0);
        assertEquals("a\"b\\c", c.realm());
        assertEquals("insufficient_scope", c.error());
    }

    @Test
    void token68IsSkipped() {
        List<Challenge> cs = Challenge.parse("Negotiate YWxhZGRpbjpvcGVuc2VzYW1l==, Bearer realm=\"r\", NTLM");
        assertEquals(3, cs.size());
        assertEquals("negotiate", cs.get(0).scheme());
        assertTrue(cs.get(0).params().isEmpty());
        assertEquals("r", cs.get(1).realm());
        assertEquals("ntlm", cs.get(2).scheme());
    }

    @Test
    void schemeAndParamNamesAreCaseInsensitive() {
        Challenge c = Challenge.parse("BEARER Realm=\"r\", SERVICE=svc").get(0);
        assertEquals("bearer", c.scheme());
        assertEquals("r", c.realm());
        assertEquals("svc", c.service());
    }

    @Test
    void whitespaceAroundEqualsAndCommas() {
        Challenge c = Challenge.parse("  Bearer   realm = \"r\" ,  service=s ,scope=\"x\"  ").get(0);
        assertEquals(Map.of("realm", "r", "service", "s", "scope", "x"), c.params());
    }

    @Test
    void unquotedUrlValue() {
        Challenge c = Challenge.parse("Bearer realm=https://auth.example.com/token,service=example").get(0);
        assertEquals("https://auth.example.com/token", c.realm());
        assertEquals("example", c.service());
    }

    @Test
    void schemesWithoutParams() {
        List<Challenge> cs = Challenge.parse("Basic, Bearer");
        assertEquals(List.of("basic", "bearer"), cs.stream().map(Challenge::scheme).toList());
    }

    @Test
    void malformedInputNeverThrows() {
        assertEquals(List.of(), Challenge.parse(null));
        assertEquals(List.of(), Challenge.parse(""));
        assertEquals(List.of(), Challenge.parse(",,, ,"));
        assertEquals(List.of(), Challenge.parse("=x, \"quoted\""));
        List<Challenge> cs = Challenge.parse("Bearer realm=\"unterminated");
        assertEquals(1, cs.size());
        assertNull(cs.get(0).realm());
        Challenge c = Challenge.parse("Bearer realm=, service=\"s\", junk junk=\"x\" tail, scope=y").get(0);
        assertNull(c.realm());
        assertEquals("s", c.service());
        for (String s : new String[] {"\"", "\\", "Bearer \"", "Bearer realm=\"\\", "Bearer ===", "B r=\"a\"\"b\"",
                "\u0000\u00ff Bearer realm=x", "Bearer realm=\"x\"garbage, service=s"}) {
            Challenge.parse(s);
        }
    }

    @Test
    void duplicateParamKeepsFirst() {
        assertEquals("a", Challenge.parse("Bearer realm=a, realm=b").get(0).realm());
    }

    @Test
    void parseAllJoinsHeaderLines() {
        List<Challenge> cs = Challenge.parseAll(List.of("Basic realm=x", "Bearer realm=y"));
        assertEquals(2, cs.size());
        assertEquals("y", cs.get(1).realm());
    }
}
