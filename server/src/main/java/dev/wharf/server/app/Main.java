package dev.wharf.server.app;

import dev.wharf.server.cli.DuCommand;
import dev.wharf.server.cli.PrefetchCommand;
import dev.wharf.server.cli.VerifyCommand;
import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.server.config.HostPort;
import dev.wharf.server.config.WharfConfig;
import dev.wharf.storage.StoreLockedException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * The command line: {@code wharf serve|prefetch|du|verify ...}. Exit codes: 0 success, 1 failures (an image that
 * could not be prefetched, a corrupt blob), 2 a usage or config error.
 */
public final class Main {
    private static final String USAGE = """
            usage: wharf serve [--config FILE] [--listen HOST:PORT] [--storage DIR]
                   %s
                   %s
                   %s

              serve      run the pull-through cache (with the embedded defaults when no --config is given)
              prefetch   warm a running wharf (--url, default %s) with the images listed in FILE, one
                         reference a line (docker.io/library/nginx:1.27, quay.io/org/img@sha256:..., or a wharf
                         path hub/library/x:tag); every platform of an index unless --platform is given
              du         bytes on disk per project, from the storage directory (--storage, or --config's)
              verify     re-hash every stored blob; move mismatches to <storage>/quarantine/ and report them

            Exit codes: 0 success, 1 failures (an image not prefetched, a corrupt blob), 2 usage or config error.
            """.formatted(PrefetchCommand.USAGE, DuCommand.USAGE,
            VerifyCommand.USAGE, "http://127.0.0.1:5000");

    private static final java.time.Duration DRAIN_TIMEOUT = java.time.Duration.ofSeconds(30);

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        System.exit(run(args));
    }

    static int run(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            System.out.print(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "serve" -> {
                return serve(rest);
            }
            case "prefetch", "du", "verify" -> {
                // The tools print their own report; the store's and HTTP client's informational logging is noise here.
                System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
                boolean tty = System.console() != null;
                return switch (args[0]) {
                    case "prefetch" -> PrefetchCommand.run(rest, System.in, System.out,
                            System.err, tty);
                    case "du" -> DuCommand.run(rest, System.out, System.err);
                    default -> VerifyCommand.run(rest, System.out, System.err, tty);
                };
            }
            default -> {
                System.err.println("wharf: unknown command '" + args[0] + "'");
                System.err.print(USAGE);
                return 2;
            }
        }
    }

    private static int serve(String[] args) throws Exception {
        Path configFile = null;
        String listen = null;
        String storage = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (a) {
                case "--config", "--listen", "--storage" -> {
                    if (value == null) {
                        System.err.println("wharf: " + a + " needs a value");
                        return 2;
                    }
                    i++;
                    if (a.equals("--config")) {
                        configFile = Path.of(value);
                    } else if (a.equals("--listen")) {
                        listen = value;
                    } else {
                        storage = value;
                    }
                }
                default -> {
                    System.err.println("wharf: unknown option '" + a + "'");
                    System.err.print(USAGE);
                    return 2;
                }
            }
        }
        WharfConfig config;
        try {
            config = configFile == null ? ConfigLoader.defaults() : ConfigLoader.load(configFile);
            if (listen != null) {
                config = config.withListen(HostPort.parse(listen));
            }
            if (storage != null) {
                config = config.withStoragePath(Path.of(storage));
            }
        } catch (ConfigException e) {
            System.err.println("wharf: " + e.getMessage());
            return 2;
        } catch (IllegalArgumentException e) {
            System.err.println("wharf: --listen: " + e.getMessage());
            return 2;
        }
        WharfServer server;
        try {
            server = new WharfServer(config).start();
        } catch (ConfigException e) {
            // Found while wiring (a CA file, the egress proxy from the environment): a config error all the same.
            System.err.println("wharf: " + e.getMessage());
            return 2;
        } catch (StoreLockedException e) {
            System.err.println("wharf: " + e.getMessage());
            return 2;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM (and SIGINT) drain: stop accepting, finish responses in flight, then exit 0. Handled as a signal
        // rather than only a shutdown hook, because a JVM stopped by a signal through its hooks exits 143.
        Runnable drain = () -> {
            server.drainAndClose(DRAIN_TIMEOUT);
            stopped.countDown();
        };
        for (String sig : new String[] {"TERM", "INT"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> new Thread(drain, "wharf-drain").start());
            } catch (IllegalArgumentException e) {
                // the signal is not available on this platform; the shutdown hook below still closes the server
            }
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (stopped.getCount() > 0) {
                server.close();
            }
        }, "wharf-shutdown"));
        stopped.await();
        return 0;
    }
}
