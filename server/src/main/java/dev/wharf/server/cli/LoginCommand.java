package dev.wharf.server.cli;

import dev.wharf.auth.access.OidcDeviceFlow;
import dev.wharf.auth.access.OidcIdTokens;
import dev.wharf.auth.access.OidcIdentity;
import dev.wharf.auth.access.OidcTokenException;
import dev.wharf.server.config.AuthConfig;
import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ConfigLoader;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wharf login --oidc}: signs in at the OIDC provider with the device authorization grant (RFC 8628) and
 * prepares a {@code docker login} with the ID token as the password, which wharf's token endpoint accepts. The token
 * is written to a file of mode 0600 and never printed, unless {@code --print-token} asks for it on stdout alone (for
 * a pipe); every message then goes to stderr.
 */
@Command(name = "login", mixinStandardHelpOptions = true, versionProvider = WharfVersion.class,
        synopsisHeading = "usage: ", customSynopsis = LoginCommand.USAGE,
        description = {"Sign in at wharf's OIDC provider and print the docker login command that uses the ID token.",
                "Runs the OAuth 2.0 device authorization flow: open the URL it prints, enter the code, and the "
                        + "command goes on by itself. The ID token goes to --token-file (mode 0600), never to the "
                        + "terminal, unless --print-token asks for it on stdout alone:",
                "  wharf login --oidc ... --print-token | docker login HOST -u USER --password-stdin",
                "--config FILE takes the issuer, client id and groups claim from FILE's auth.oidc where the flags "
                        + "do not give them."})
public final class LoginCommand implements Callable<Integer> {
    public static final String USAGE = "wharf login --oidc (--issuer URL --client-id ID | --config FILE) "
            + "[--client-secret-file FILE] "
            + "[--scope SCOPES] [--groups-claim CLAIM] [--registry HOST[:PORT]] [--token-file FILE | --print-token]";

    private final Streams io;

    @Option(names = "--oidc", description = "sign in through the OIDC provider (the only way so far)")
    private boolean oidc;

    @Option(names = "--config", paramLabel = "FILE",
            description = "wharf's config: auth.oidc.issuer, clientId and groupsClaim for the flags not given")
    private Path config;

    @Option(names = "--issuer", paramLabel = "URL", description = "the provider, as auth.oidc.issuer names it")
    private String issuer;

    @Option(names = "--client-id", paramLabel = "ID", description = "wharf's client id, as auth.oidc.clientId")
    private String clientId;

    @Option(names = "--client-secret-file", paramLabel = "FILE",
            description = "the client's secret, for a provider that wants one for the device flow")
    private Path clientSecretFile;

    @Option(names = "--scope", paramLabel = "SCOPES", description = "what to ask for (default: ${DEFAULT-VALUE})")
    private String scope = "openid profile email groups";

    @Option(names = "--groups-claim", paramLabel = "CLAIM",
            description = "the claim that lists groups, as auth.oidc.groupsClaim (default: --config's, else groups)")
    private String groupsClaim;

    @Option(names = "--registry", paramLabel = "HOST[:PORT]",
            description = "wharf as docker reaches it, for the printed command (default: WHARF_HOST)")
    private String registry;

    @Option(names = "--token-file", paramLabel = "FILE", description = "where the ID token goes (default: "
            + "$XDG_CONFIG_HOME/wharf/id-token, else ~/.config/wharf/id-token)")
    private Path tokenFile;

    @Option(names = "--print-token", description = "print the ID token alone on stdout, for a pipe; write no file")
    private boolean printToken;

    LoginCommand(Streams io) {
        this.io = io;
    }

    @Override
    public Integer call() throws Exception {
        if (!oidc) {
            throw new UsageError("only --oidc is supported; users of the htpasswd file run docker login directly");
        }
        fromConfig();
        if (issuer == null || clientId == null) {
            throw new UsageError("--issuer and --client-id are needed (auth.oidc.issuer and auth.oidc.clientId in "
                    + "wharf's config, which --config FILE reads)");
        }
        if (groupsClaim == null) {
            groupsClaim = "groups";
        }
        if (printToken && tokenFile != null) {
            throw new UsageError("--print-token writes no file: give --token-file or --print-token, not both");
        }
        URI issuerUri;
        OidcDeviceFlow flow;
        OidcIdTokens verifier;
        try {
            issuerUri = new URI(issuer);
            String secret = clientSecretFile == null ? null
                    : Files.readString(clientSecretFile, StandardCharsets.UTF_8).strip();
            flow = new OidcDeviceFlow(issuerUri, clientId, secret);
            verifier = new OidcIdTokens(issuerUri, clientId, groupsClaim);
        } catch (java.net.URISyntaxException | IllegalArgumentException e) {
            throw new UsageError("--issuer: " + e.getMessage());
        } catch (IOException e) {
            throw new UsageError("--client-secret-file: cannot read " + clientSecretFile + ": " + e.getMessage());
        }
        PrintStream say = printToken ? io.err() : io.out();
        try {
            OidcDeviceFlow.Pending pending = flow.start(scope);
            OidcDeviceFlow.Prompt p = pending.prompt();
            say.println("Open " + p.verificationUri() + " and enter the code " + p.userCode());
            if (p.verificationUriComplete() != null) {
                say.println("(or open " + p.verificationUriComplete() + ")");
            }
            say.println("Waiting for the sign-in (until " + p.expiresAt() + ")...");
            say.flush();
            OidcDeviceFlow.Tokens tokens = pending.await();
            OidcIdentity who = verifier.verify(tokens.idToken());
            String host = registry == null ? "WHARF_HOST" : registry;
            String groups = who.groups().isEmpty() ? "no groups" : "groups: " + String.join(", ",
                    new java.util.TreeSet<>(who.groups()));
            if (printToken) {
                io.out().println(tokens.idToken());
                io.out().flush();
                say.println("Signed in as " + who.username() + " (" + groups + "). Pipe this output into:");
                say.println("docker login " + host + " -u " + who.username() + " --password-stdin");
            } else {
                Path file = tokenFile == null ? defaultTokenFile() : tokenFile;
                writePrivate(file, tokens.idToken());
                say.println("Signed in as " + who.username() + " (" + groups + "). The ID token is in " + file
                        + "; it expires as the provider set it, then run wharf login again.");
                say.println("docker login " + host + " -u " + who.username() + " --password-stdin < " + file);
            }
            return 0;
        } catch (OidcTokenException e) {
            io.err().println("wharf login: " + e.getMessage());
            return 1;
        }
    }

    /** Fills {@code issuer}, {@code clientId} and {@code groupsClaim} from {@code --config}'s auth.oidc; flags win. */
    private void fromConfig() throws UsageError {
        if (config == null) {
            return;
        }
        AuthConfig.Oidc o;
        try {
            AuthConfig auth = ConfigLoader.load(config).auth();
            o = auth == null ? null : auth.oidc();
        } catch (ConfigException e) {
            throw new UsageError(e.getMessage());
        }
        if (o == null) {
            throw new UsageError("--config " + config + " has no auth.oidc");
        }
        if (issuer == null) {
            issuer = o.issuer().toString();
        }
        if (clientId == null) {
            clientId = o.clientId();
        }
        if (groupsClaim == null) {
            groupsClaim = o.groupsClaim();
        }
    }

    private static Path defaultTokenFile() {
        String xdg = System.getenv("XDG_CONFIG_HOME");
        Path base = xdg == null || xdg.isBlank() ? Path.of(System.getProperty("user.home"), ".config") : Path.of(xdg);
        return base.resolve("wharf").resolve("id-token");
    }

    /** Writes {@code content} to {@code file} with mode 0600 from the start (a temp file renamed into place). */
    private static void writePrivate(Path file, String content) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, ".id-token.", ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.writeString(tmp, content + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
