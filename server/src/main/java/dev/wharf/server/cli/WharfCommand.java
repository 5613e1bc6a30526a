package dev.wharf.server.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code wharf}: the command line, parsed by picocli. {@code serve} lives in {@code app} (it wires the server), so
 * {@link #commandLine} takes it as an object; the other commands live here. Exit codes: 0 success, 1 failures (an
 * image not prefetched, a corrupt blob), 2 a usage or config error, whether picocli or a command finds it.
 */
@Command(name = "wharf", mixinStandardHelpOptions = true, versionProvider = WharfVersion.class,
        synopsisHeading = "usage: ", customSynopsis = "wharf [--version] [--help] COMMAND [OPTIONS]",
        description = "An OCI pull-through caching registry proxy.",
        commandListHeading = "%nCommands:%n",
        footer = {"", "Run 'wharf COMMAND --help' for a command's options.",
                "Exit codes: 0 success, 1 failures (an image not prefetched, a corrupt blob), 2 usage or config error."})
public final class WharfCommand implements Callable<Integer> {
    private final Streams io;

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    private WharfCommand(Streams io) {
        this.io = io;
    }

    /** {@code wharf} alone: the usage, exit 2. */
    @Override
    public Integer call() {
        io.err().print(spec.commandLine().getUsageMessage());
        return 2;
    }

    /** The whole command line, with {@code serve} (a picocli command object) as the first command. */
    public static CommandLine commandLine(Object serve, Streams io) {
        CommandLine tls = new CommandLine(new TlsCommand(io)).addSubcommand(new TlsInitCommand(io));
        CommandLine cl = new CommandLine(new WharfCommand(io))
                .addSubcommand(serve)
                .addSubcommand(new PrefetchCommand(io))
                .addSubcommand(new DuCommand(io))
                .addSubcommand(new VerifyCommand(io))
                .addSubcommand(tls)
                .addSubcommand(new ContainerdConfigCommand(io))
                .addSubcommand(new LoginCommand(io))
                .addSubcommand(new CommandLine.HelpCommand());
        // The last of a repeated option wins, as it did before picocli.
        cl.setOverwrittenOptionsAllowed(true);
        cl.setOut(new PrintWriter(io.out(), true));
        cl.setErr(new PrintWriter(io.err(), true));
        cl.setParameterExceptionHandler((e, args) -> usageError(e.getCommandLine(), e.getMessage(), e));
        cl.setExecutionExceptionHandler((e, command, parsed) -> {
            if (e instanceof UsageError) {
                return usageError(command, e.getMessage(), null);
            }
            throw e;
        });
        return cl;
    }

    /** {@code wharf du: <message>}, the command's synopsis and where its help is; exit 2. */
    private static int usageError(CommandLine command, String message, CommandLine.ParameterException e) {
        PrintWriter err = command.getErr();
        err.println(command.getCommandSpec().qualifiedName() + ": " + message);
        if (e != null) {
            CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
        }
        err.print("usage: " + command.getHelp().synopsis(0));
        err.println("Run '" + command.getCommandSpec().qualifiedName() + " --help' for more.");
        err.flush();
        return 2;
    }
}
