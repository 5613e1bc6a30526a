package dev.wharf.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A JUnit 5 extension that starts, once per test class, a real {@link DistributionRegistry}, an {@link ImageSeeder}
 * for it and, if asked, a wharf in front of it ({@link InProcessWharf} or {@link WharfProcess}), and closes them
 * after the class. Tests ask for them as parameters (of test, {@code @BeforeAll} or {@code @BeforeEach} methods) or
 * through the accessors:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final RealRegistry upstream = RealRegistry.plain().inProcessWharf(r -> WharfYaml.oneProject("hub", r.url()));
 * }</pre>
 *
 * <p>With {@code @ExtendWith(RealRegistry.class)} it starts a plain registry and seeder and no wharf.
 */
public final class RealRegistry implements BeforeAllCallback, AfterAllCallback, ParameterResolver {
    private final Consumer<DistributionRegistry.Builder> registrySettings;
    private Supplier<ImageSeeder> seederFactory = ImageSeeder::new;
    private Function<DistributionRegistry, WharfYaml> inProcessConfig;
    private Function<DistributionRegistry, WharfProcess.Builder> processConfig;

    private DistributionRegistry registry;
    private ImageSeeder seeder;
    private Path wharfDir;
    private InProcessWharf wharf;
    private WharfProcess wharfProcess;

    /** A plain registry (no auth, no TLS) and a seeder; the form {@code @ExtendWith} uses. */
    public RealRegistry() {
        this(b -> { });
    }

    private RealRegistry(Consumer<DistributionRegistry.Builder> registrySettings) {
        this.registrySettings = registrySettings;
    }

    /** A plain registry (no auth, no TLS) and a seeder. */
    public static RealRegistry plain() {
        return new RealRegistry();
    }

    /** A registry with these settings (htpasswd users, TLS, ...). */
    public static RealRegistry configured(Consumer<DistributionRegistry.Builder> settings) {
        return new RealRegistry(settings);
    }

    /** How the seeder is made (e.g. with the registry's credentials). */
    public RealRegistry seeder(Supplier<ImageSeeder> factory) {
        this.seederFactory = factory;
        return this;
    }

    /** Also starts an {@link InProcessWharf} from {@code config}, with storage in a directory of its own. */
    public RealRegistry inProcessWharf(Function<DistributionRegistry, WharfYaml> config) {
        this.inProcessConfig = config;
        return this;
    }

    /** Also starts a {@link WharfProcess} from the builder {@code settings} returns. */
    public RealRegistry wharfProcess(Function<DistributionRegistry, WharfProcess.Builder> settings) {
        this.processConfig = settings;
        return this;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        DistributionRegistry.Builder b = DistributionRegistry.builder();
        registrySettings.accept(b);
        registry = b.start();
        seeder = seederFactory.get();
        if (inProcessConfig != null) {
            wharfDir = Files.createTempDirectory("wharf-test-");
            wharf = InProcessWharf.start(wharfDir.resolve("storage"), inProcessConfig.apply(registry));
        }
        if (processConfig != null) {
            wharfProcess = processConfig.apply(registry).start();
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        try (AutoCloseable r = registry; AutoCloseable s = seeder; AutoCloseable w = wharf;
                AutoCloseable p = wharfProcess) {
            // closed in reverse order: wharfs first, the registry last
        } catch (Exception e) {
            throw new IllegalStateException("closing the test registry", e);
        } finally {
            deleteTree(wharfDir);
        }
    }

    public DistributionRegistry registry() {
        return registry;
    }

    public ImageSeeder seeder() {
        return seeder;
    }

    /** The in-process wharf; fails if none was asked for. */
    public InProcessWharf wharf() {
        if (wharf == null) {
            throw new IllegalStateException("no in-process wharf: call inProcessWharf(...)");
        }
        return wharf;
    }

    /** The wharf process; fails if none was asked for. */
    public WharfProcess wharfProcess() {
        if (wharfProcess == null) {
            throw new IllegalStateException("no wharf process: call wharfProcess(...)");
        }
        return wharfProcess;
    }

    /** Where the in-process wharf stores its cache. */
    public Path wharfStorage() {
        wharf();
        return wharfDir.resolve("storage");
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return type == DistributionRegistry.class || type == ImageSeeder.class
                || (type == InProcessWharf.class && inProcessConfig != null)
                || (type == WharfProcess.class && processConfig != null);
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        if (type == DistributionRegistry.class) {
            return registry;
        }
        if (type == ImageSeeder.class) {
            return seeder;
        }
        return type == InProcessWharf.class ? wharf() : wharfProcess();
    }

    private static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
