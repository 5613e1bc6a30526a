package dev.wharf.server;

import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.server.config.HostPort;
import dev.wharf.server.config.WharfConfig;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/** The command line: {@code wharf serve [--config FILE] [--listen HOST:PORT] [--storage DIR]}. */
public final class Main {
    private static final String USAGE = """
            usage: wharf serve [--config FILE] [--listen HOST:PORT] [--storage DIR]

              serve      run the pull-through cache (with the embedded defaults when no --config is given)
            """;

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
        if (!args[0].equals("serve")) {
            System.err.println("wharf: unknown command '" + args[0] + "'");
            System.err.print(USAGE);
            return 2;
        }
        Path configFile = null;
        String listen = null;
        String storage = null;
        for (int i = 1; i < args.length; i++) {
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
        WharfServer server = new WharfServer(config).start();
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
