package dev.wharf.server.cli;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wharf tls init --dir DIR --host NAME [--host NAME]... [--force]}: writes a new private CA ({@code ca.crt},
 * {@code ca.key}) and a serving certificate it signs ({@code tls.crt}, {@code tls.key}) for the hosts, then prints
 * the lines that use them: wharf's {@code tls:} section and containerd's {@code ca =}. Keys are PKCS#8 PEM, mode
 * 0600 from their creation on. Existing files stay unless {@code --force}: overwriting a CA cuts off every node that
 * trusts it.
 */
@Command(name = "init", mixinStandardHelpOptions = true, versionProvider = WharfVersion.class,
        synopsisHeading = "usage: ", customSynopsis = TlsInitCommand.USAGE,
        description = {"Write a private CA and a serving certificate for wharf.",
                "In DIR: ca.crt, ca.key and tls.crt, tls.key signed by the CA, for every --host: a DNS name or an IP address (v4 or v6). EC P-256 keys; the CA is valid "
                + "for 10 years, the serving certificate for 1 year.",
                "Prints the tls: lines for wharf's config and the ca = line for containerd's hosts.toml."})
public final class TlsInitCommand implements Callable<Integer> {
    public static final String USAGE = "wharf tls init --dir DIR --host NAME [--host NAME]... [--force]";

    private final Streams io;

    @Option(names = "--dir", paramLabel = "DIR", required = true, description = "where to write the four files")
    private Path dir;

    @Option(names = "--host", paramLabel = "NAME", required = true,
            description = "a name clients use for wharf: DNS name or IP address (repeatable)")
    private List<String> hostOptions = new ArrayList<>();

    @Option(names = "--force", description = "overwrite existing files")
    private boolean force;

    TlsInitCommand(Streams io) {
        this.io = io;
    }

    @Override
    public Integer call() throws Exception {
        List<ServingCertificates.Host> hosts = new ArrayList<>();
        for (String h : hostOptions) {
            ServingCertificates.Host host = ServingCertificates.parseHost(h);
            if (hosts.stream().noneMatch(x -> x.text().equals(host.text()))) {
                hosts.add(host);
            }
        }
        Path base = dir.toAbsolutePath().normalize();
        if (Files.exists(base) && !Files.isDirectory(base)) {
            throw new UsageError("--dir " + base + " is not a directory");
        }
        Path caCrt = base.resolve("ca.crt");
        Path caKey = base.resolve("ca.key");
        Path tlsCrt = base.resolve("tls.crt");
        Path tlsKey = base.resolve("tls.key");
        if (!force) {
            for (Path p : List.of(caCrt, caKey, tlsCrt, tlsKey)) {
                if (Files.exists(p)) {
                    throw new UsageError(p + " exists; give --force to overwrite it (and the other three)");
                }
            }
        }
        ServingCertificates certificates = new ServingCertificates();
        Instant now = Instant.now();
        ServingCertificates.Issued ca = certificates.newCa(now);
        ServingCertificates.Issued serving = certificates.newServing(ca, hosts, now);

        Files.createDirectories(base);
        Map<Path, String> files = new LinkedHashMap<>();
        files.put(caKey, pem(new JcaPKCS8Generator(ca.key(), null)));
        files.put(tlsKey, pem(new JcaPKCS8Generator(serving.key(), null)));
        files.put(caCrt, pem(ca.certificate()));
        files.put(tlsCrt, pem(serving.certificate()));
        for (Map.Entry<Path, String> f : files.entrySet()) {
            boolean secret = f.getKey().getFileName().toString().endsWith(".key");
            write(f.getKey(), f.getValue(), secret ? "rw-------" : "rw-r--r--");
        }

        var out = io.out();
        out.println("wrote " + caCrt + ", " + caKey + " (CA, valid until " + ca.certificate().getNotAfter().toInstant()
                + ")");
        out.println("wrote " + tlsCrt + ", " + tlsKey + " (serving certificate for "
                + String.join(", ", hosts.stream().map(ServingCertificates.Host::text).toList()) + ", valid until "
                + serving.certificate().getNotAfter().toInstant() + ")");
        out.println();
        out.println("wharf config:");
        out.println("tls:");
        out.println("  cert: " + tlsCrt);
        out.println("  key: " + tlsKey);
        out.println();
        out.println("containerd hosts.toml, in each [host] entry for wharf (wharf containerd-config --ca " + caCrt
                + " writes it):");
        out.println("  ca = \"" + caCrt + "\"");
        return 0;
    }

    private static String pem(Object o) throws IOException {
        StringWriter s = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(s)) {
            w.writeObject(o instanceof JcaPKCS8Generator g ? g.generate() : o);
        }
        return s.toString();
    }

    /**
     * Writes {@code file} through a temp file in the same directory, created with {@code mode} (so a key is never
     * readable by others, not even for a moment), then renamed into place.
     */
    private static void write(Path file, String content, String mode) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        try {
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
        } catch (FileAlreadyExistsException e) {
            throw new IOException("cannot create " + tmp + ": it exists", e);
        }
        try {
            Files.writeString(tmp, content, StandardCharsets.US_ASCII);
            // The umask may have narrowed the mode at creation; set it exactly.
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(mode));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
