package dev.wharf.server.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code wharf tls}: the TLS subcommands ({@code init}); alone, its usage and exit 2. */
@Command(name = "tls", mixinStandardHelpOptions = true, versionProvider = WharfVersion.class,
        synopsisHeading = "usage: ", customSynopsis = "wharf tls init --dir DIR --host NAME [--host NAME]... [--force]",
        description = "TLS material for wharf's listener.", commandListHeading = "%nCommands:%n")
public final class TlsCommand implements Callable<Integer> {
    private final Streams io;

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    TlsCommand(Streams io) {
        this.io = io;
    }

    @Override
    public Integer call() {
        io.err().print(spec.commandLine().getUsageMessage());
        return 2;
    }
}
