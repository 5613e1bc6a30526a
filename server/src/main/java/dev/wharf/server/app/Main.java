package dev.wharf.server.app;

import dev.wharf.server.cli.Streams;
import dev.wharf.server.cli.WharfCommand;

/**
 * The entry point: {@code wharf serve|prefetch|du|verify|tls init|containerd-config ...}, {@code wharf --version}
 * (see {@link WharfCommand}). Exit codes: 0 success, 1 failures (an image that could not be prefetched, a corrupt
 * blob), 2 a usage or config error.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length == 1 && args[0].equals("cds-training")) {
            // Not a documented command: the launcher's and the image build's class-data-sharing training run.
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
            try {
                return CdsTraining.run();
            } catch (Exception e) {
                System.err.println("cds-training failed: " + e);
                return 1;
            }
        }
        if (args.length == 0 || !args[0].equals("serve")) {
            // The tools print their own report; the store's and HTTP client's informational logging is noise there.
            // Set before any logger exists, which is why ServeCommand makes its logger in call().
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        Streams io = Streams.system();
        return WharfCommand.commandLine(new ServeCommand(io), io).execute(args);
    }
}
