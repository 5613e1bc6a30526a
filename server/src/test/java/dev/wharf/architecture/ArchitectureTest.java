package dev.wharf.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The house rules of docs/architecture.md, checked on the compiled main classes of all three modules: the arrows
 * run one way. A rule that fails names the classes and the dependency that broke it.
 */
class ArchitectureTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        // storage and auth arrive as jars in a reactor build, so jars are imported too; test classes and test jars
        // are not.
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .withImportOption(location -> !location.contains("-tests.jar") && !location.contains("/test-classes/"))
                .importPackages("dev.wharf");
        if (classes.size() < 100) {
            throw new AssertionError("imported only " + classes.size() + " classes of dev.wharf: the class path is "
                    + "not what this test expects, so its rules would check nothing");
        }
    }

    @Test
    void serverPackagesFormNoCycle() {
        slices().assignedFrom(subpackagesOf("dev.wharf.server")).should().beFreeOfCycles().check(classes);
    }

    @Test
    void storagePackagesFormNoCycle() {
        slices().assignedFrom(subpackagesOf("dev.wharf.storage")).should().beFreeOfCycles().check(classes);
    }

    /**
     * One slice per package directly under {@code root}, and one for {@code root} itself, so a cycle between the
     * root package and a subpackage counts too.
     */
    private static SliceAssignment subpackagesOf(String root) {
        return new SliceAssignment() {
            @Override
            public SliceIdentifier getIdentifierOf(JavaClass javaClass) {
                String pkg = javaClass.getPackageName();
                if (pkg.equals(root)) {
                    return SliceIdentifier.of("(" + root + ")");
                }
                if (!pkg.startsWith(root + ".")) {
                    return SliceIdentifier.ignore();
                }
                String rest = pkg.substring(root.length() + 1);
                int dot = rest.indexOf('.');
                return SliceIdentifier.of(dot < 0 ? rest : rest.substring(0, dot));
            }

            @Override
            public String getDescription() {
                return "the packages under " + root;
            }
        };
    }

    @Test
    void theS3ClientStaysInStorageS3() {
        // The SDK's S3 client is one package's business (and is built only when storage.s3 is set); the store and
        // the fills know the bucket only through RemoteTier and BlobUploads.
        noClasses().that().resideOutsideOfPackage("dev.wharf.storage.s3..")
                .should().dependOnClassesThat().resideInAPackage("software.amazon.awssdk.services.s3..")
                .check(classes);
        noClasses().that().resideInAnyPackage("dev.wharf.storage", "dev.wharf.storage.fill..")
                .should().dependOnClassesThat().resideInAPackage("dev.wharf.storage.s3..")
                .check(classes);
    }

    @Test
    void storageAndAuthNeverImportServerOrEachOther() {
        noClasses().that().resideInAPackage("dev.wharf.storage..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.wharf.server..", "dev.wharf.auth..")
                .check(classes);
        noClasses().that().resideInAPackage("dev.wharf.auth..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.wharf.server..", "dev.wharf.storage..")
                .check(classes);
    }

    @Test
    void upstreamAuthAndClientAuthStayApart() {
        // auth.upstream is wharf as a client of registries; auth.access is wharf deciding who may pull from it.
        noClasses().that().resideInAPackage("dev.wharf.auth.upstream..")
                .should().dependOnClassesThat().resideInAPackage("dev.wharf.auth.access..")
                .check(classes);
        noClasses().that().resideInAPackage("dev.wharf.auth.access..")
                .should().dependOnClassesThat().resideInAPackage("dev.wharf.auth.upstream..")
                .check(classes);
        // auth.http holds what both read HTTP with (bounded bodies); it knows neither side.
        noClasses().that().resideInAPackage("dev.wharf.auth.http..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.wharf.auth.upstream..",
                        "dev.wharf.auth.access..")
                .check(classes);
    }

    @Test
    void apiImportsNothingElseFromServer() {
        noClasses().that().resideInAPackage("dev.wharf.server.api..")
                .should().dependOnClassesThat().resideInAPackage("dev.wharf.server..")
                .andShould().dependOnClassesThat().resideOutsideOfPackages("dev.wharf.server.api..",
                        "dev.wharf.storage..", "java..", "io.netty..", "com.fasterxml.jackson..")
                .check(classes);
    }

    @Test
    void clientAccessKnowsOnlyHttpApiAndAuth() {
        // Who may pull is decided from the route and the credentials alone: never from what the cache holds.
        noClasses().that().resideInAPackage("dev.wharf.server.access..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.wharf.server.registry..",
                        "dev.wharf.server.admin..", "dev.wharf.server.pullthrough..", "dev.wharf.server.prefetch..",
                        "dev.wharf.server.app..", "dev.wharf.server.cli..", "dev.wharf.server.webhook..",
                        "dev.wharf.storage..", "dev.wharf.auth.upstream..")
                .check(classes);
    }

    @Test
    void netImportsNothingElseFromServer() {
        // The socket transport sits at the bottom beside api: the app, http and the upstream client all use it.
        noClasses().that().resideInAPackage("dev.wharf.server.net..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.wharf.server.api..", "dev.wharf.server.app..",
                        "dev.wharf.server.http..", "dev.wharf.server.upstream..", "dev.wharf.server.config..",
                        "dev.wharf.server.registry..", "dev.wharf.server.pullthrough..", "dev.wharf.storage..",
                        "dev.wharf.auth..")
                .check(classes);
    }

    @Test
    void httpImportsNoEndpoint() {
        noClasses().that().resideInAPackage("dev.wharf.server.http..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.wharf.server.registry..",
                        "dev.wharf.server.admin..", "dev.wharf.server.prefetch..", "dev.wharf.server.app..",
                        "dev.wharf.server.cli..", "dev.wharf.server.webhook..", "dev.wharf.server.console..",
                        "dev.wharf.server.cluster..")
                .check(classes);
    }

    /**
     * The cluster (Redis leases, replica-to-replica streams) plugs into the pull-through through its two interfaces
     * and into the internal listener through http's PeerEndpoint: only the app wires it in, and it never reaches for
     * the upstreams, the registry endpoints or client auth (no client credential or upstream call crosses replicas).
     */
    @Test
    void theClusterIsALeafOnlyTheAppWires() {
        noClasses().that().resideOutsideOfPackages("dev.wharf.server.app..", "dev.wharf.server.cluster..")
                .should().dependOnClassesThat().resideInAPackage("dev.wharf.server.cluster..")
                .check(classes);
        noClasses().that().resideInAPackage("dev.wharf.server.cluster..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.wharf.server.registry..",
                        "dev.wharf.server.upstream..", "dev.wharf.server.admin..", "dev.wharf.server.console..",
                        "dev.wharf.server.cli..", "dev.wharf.server.webhook..", "dev.wharf.server.prefetch..",
                        "dev.wharf.server.access..", "dev.wharf.auth..")
                .check(classes);
    }

    /**
     * The web console is a leaf beside the admin API: only the app wires it in, and it reads the cache through the
     * store, the metrics and the admin package, never through the registry endpoints, the CLI or the webhook.
     */
    @Test
    void theConsoleIsALeafOnlyTheAppUses() {
        noClasses().that().resideOutsideOfPackages("dev.wharf.server.app..", "dev.wharf.server.console..")
                .should().dependOnClassesThat().resideInAPackage("dev.wharf.server.console..")
                .check(classes);
        noClasses().that().resideInAPackage("dev.wharf.server.console..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.wharf.server.registry..",
                        "dev.wharf.server.cli..", "dev.wharf.server.webhook..", "dev.wharf.server.app..")
                .check(classes);
    }

    @Test
    void pullThroughUsesNoNettyHttpTypes() {
        noClasses().that().resideInAPackage("dev.wharf.server.pullthrough..")
                .should().dependOnClassesThat().resideInAnyPackage("io.netty.handler.codec.http..",
                        "io.netty.channel..", "dev.wharf.server.http..", "dev.wharf.server.registry..",
                        "dev.wharf.server.cluster..")
                .check(classes);
    }

    @Test
    void onlyTheAppWiresTheServerTogether() {
        noClasses().that().resideOutsideOfPackages("dev.wharf.server.app..")
                .should().dependOnClassesThat().resideInAPackage("dev.wharf.server.app..")
                .check(classes);
    }
}
