package dev.wharf.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The hand-written check of the repository-name grammar gives the spec regex's answer: on names chosen to hit each
 * rule, and on 200,000 random strings over the grammar's alphabet (fixed seed, so a failure reproduces).
 */
class RepositoryNameTest {
    @Test
    void chosenNames() {
        String[] valid = {"a", "library/nginx", "a.b", "a_b", "a__b", "a-b", "a---b", "a/b/c", "0", "a1.b2_c3__d4-e5",
                "x/y-z.w"};
        String[] invalid = {"", "A", "a/", "/a", "a//b", ".a", "a.", "a..b", "a___b", "a_.b", "a-", "-a", "a.-b",
                "a/.b", "a b", "ä", "a/B"};
        for (String s : valid) {
            assertTrue(RepositoryName.matchesGrammar(s), s);
            assertTrue(RepositoryName.matchesRegex(s), s);
        }
        for (String s : invalid) {
            assertFalse(RepositoryName.matchesGrammar(s), s);
            assertFalse(RepositoryName.matchesRegex(s), s);
        }
    }

    @Test
    void randomStringsGetTheRegexAnswer() {
        Random random = new Random(20261205);
        char[] alphabet = {'a', 'b', '0', '.', '_', '-', '/', 'A'};
        int matches = 0;
        for (int i = 0; i < 200_000; i++) {
            char[] s = new char[1 + random.nextInt(12)];
            for (int j = 0; j < s.length; j++) {
                s[j] = alphabet[random.nextInt(alphabet.length)];
            }
            String name = new String(s);
            boolean expected = RepositoryName.matchesRegex(name);
            assertEquals(expected, RepositoryName.matchesGrammar(name), name);
            matches += expected ? 1 : 0;
        }
        assertTrue(matches > 1000, "the random strings hit valid names too: " + matches);
    }
}
