package dev.wharf.server.app;

import dev.wharf.server.cli.Streams;
import dev.wharf.server.cli.WharfVersion;
import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.server.config.HostPort;
import dev.wharf.server.config.WharfConfig;
import dev.wharf.storage.StoreLockedException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wharf serve [--config FILE] [--listen HOST:PORT] [--storage DIR]}: runs the server until SIGTERM or SIGINT,
 * then drains (stops accepting, finishes responses in flight) and exits 0. A config error exits 2.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = WharfVersion.class,
        synopsisHeading = "usage: ", customSynopsis = ServeCommand.USAGE,
        description = {"Run the pull-through cache.",
                "Without --config, the embedded defaults: listen 0.0.0.0:5000, storage ./data, a project per public "
                        + "registry (docker.io, ghcr.io, quay.io, gcr.io, registry.k8s.io, public.ecr.aws, "
                        + "mcr.microsoft.com).",
                "SIGTERM or SIGINT drains: no new connections, responses in flight finish (30 s at most), exit 0."})
final class ServeCommand implements Callable<Integer> {
    static final String USAGE = "wharf serve [--config FILE] [--listen HOST:PORT] [--storage DIR]";
    private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(30);

    private final Streams io;

    @Option(names = "--config", paramLabel = "FILE", description = "the YAML config")
    private Path configFile;

    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "overrides the config's listen")
    private String listen;

    @Option(names = "--storage", paramLabel = "DIR", description = "overrides the config's storage.path")
    private Path storage;

    ServeCommand(Streams io) {
        this.io = io;
    }

    @Override
    public Integer call() throws Exception {
        // Created here, not in a static field: a logger made before main() sets the tools' log level would keep
        // the default one.
        Logger log = LoggerFactory.getLogger(ServeCommand.class);
        WharfConfig config;
        try {
            config = configFile == null ? ConfigLoader.defaults() : ConfigLoader.load(configFile);
            if (listen != null) {
                config = config.withListen(HostPort.parse(listen));
            }
            if (storage != null) {
                config = config.withStoragePath(storage);
            }
        } catch (ConfigException e) {
            io.err().println("wharf: " + e.getMessage());
            return 2;
        } catch (IllegalArgumentException e) {
            io.err().println("wharf: --listen: " + e.getMessage());
            return 2;
        }
        log.info("wharf {} (Java {}) starting with {}", WharfVersion.get(), Runtime.version(), config.source());
        WharfServer server;
        try {
            server = new WharfServer(config).start();
        } catch (ConfigException e) {
            // Found while wiring (a CA file, the egress proxy from the environment): a config error all the same.
            io.err().println("wharf: " + e.getMessage());
            return 2;
        } catch (StoreLockedException e) {
            // Another server holds the storage directory: starting would delete its downloads in progress.
            io.err().println("wharf: " + e.getMessage());
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
