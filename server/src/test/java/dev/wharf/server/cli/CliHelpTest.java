package dev.wharf.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wharf.testing.Exec;
import dev.wharf.testing.WharfCli;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code wharf --version} and {@code wharf <command> --help}, run as a user runs them (a child JVM). */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CliHelpTest {
    private static final Duration CLI_TIMEOUT = Duration.ofSeconds(60);

    @Test
    void versionIsTheBuildsProjectVersion() throws Exception {
        Properties built = new Properties();
        try (InputStream in = CliHelpTest.class.getResourceAsStream("/wharf-version.properties")) {
            built.load(in);
        }
        String version = built.getProperty("version");
        assertTrue(version.matches("\\d+\\.\\d+\\.\\d+.*"), "Maven filtered the resource: " + version);
        assertEquals(version, WharfVersion.get());
        for (String flag : List.of("--version", "-V")) {
            Exec.Result r = WharfCli.run(CLI_TIMEOUT, flag);
            assertEquals(0, r.exitCode(), r.describe());
            assertEquals("wharf " + version, r.output().strip());
        }
    }

    @Test
    void aRedirectedOutputIsNoTerminal() {
        // Surefire's forked JVM writes into a pipe: no console before JDK 22, a console that is no terminal after.
        assertFalse(ProgressDisplay.isTerminal());
    }

    @ParameterizedTest
    @ValueSource(strings = {"serve", "prefetch", "du", "verify", "tls", "tls init", "containerd-config", "login"})
    void everyCommandHasHelp(String command) {
        String[] words = command.split(" ");
        String[] args = java.util.Arrays.copyOf(words, words.length + 1);
        args[words.length] = "--help";
        Exec.Result r = WharfCli.run(CLI_TIMEOUT, args);
        assertEquals(0, r.exitCode(), r.describe());
        assertTrue(r.output().startsWith("usage: wharf " + command), r.output());
        assertTrue(r.output().contains("--help"), r.output());
        assertFalse(r.output().contains("Exception"), r.output());
    }

    @Test
    void topLevelHelpListsEveryCommandAndBareWharfIsAUsageError() {
        Exec.Result help = WharfCli.run(CLI_TIMEOUT, "--help");
        assertEquals(0, help.exitCode(), help.describe());
        for (String c : List.of("serve", "prefetch", "du", "verify", "tls", "containerd-config", "login")) {
            assertTrue(help.output().lines().anyMatch(l -> l.strip().startsWith(c + " ")), c + " in\n" + help.output());
        }
        Exec.Result bare = WharfCli.run(CLI_TIMEOUT);
        assertEquals(2, bare.exitCode(), bare.describe());
        assertTrue(bare.output().contains("usage: wharf"), bare.output());
        Exec.Result badOption = WharfCli.run(CLI_TIMEOUT, "du", "--no-such-option");
        assertEquals(2, badOption.exitCode(), badOption.describe());
        assertTrue(badOption.output().contains("wharf du: Unknown option: '--no-such-option'"), badOption.output());
    }
}
