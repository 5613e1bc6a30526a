package dev.wharf.server.access;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * The audit log: one JSON line for each successful pull of a private project (who, what, from where) and each
 * failed login (which name, from where, why), to stdout, stderr or a file. It never holds a password or a token:
 * the callers hand it names, addresses and reasons only. Lines are written whole under the object's lock; they
 * are few (a failed login, a manifest of a private project), so a lock costs nothing worth a queue.
 */
public final class AuditLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final OutputStream out;
    private final boolean closeOut;

    private AuditLog(OutputStream out, boolean closeOut) {
        this.out = out;
        this.closeOut = closeOut;
    }

    /** Opens {@code stdout}, {@code stderr} or a file (created with its parents, appended to). */
    public static AuditLog open(String destination) throws IOException {
        return switch (destination) {
            case "stdout" -> new AuditLog(System.out, false);
            case "stderr" -> new AuditLog(System.err, false);
            default -> {
                Path file = Path.of(destination);
                if (file.getParent() != null) {
                    Files.createDirectories(file.getParent());
                }
                yield new AuditLog(Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND),
                        true);
            }
        };
    }

    /** A pull of a private project: {@code repository} is {@code <project>/<name>}, {@code reference} a tag or digest. */
    public void pull(String user, String remote, String project, String repository, String reference) {
        ObjectNode n = line("pull");
        n.put("user", user);
        n.put("remote", remote);
        n.put("project", project);
        n.put("repository", repository);
        n.put("reference", reference);
        write(n);
    }

    /** A failed login: the name tried (never the password), where from, and why. */
    public void loginFailed(String user, String remote, String reason) {
        ObjectNode n = line("login_failed");
        n.put("user", user);
        n.put("remote", remote);
        n.put("reason", reason);
        write(n);
    }

    private static ObjectNode line(String event) {
        ObjectNode n = JSON.createObjectNode();
        n.put("time", Instant.now().toString());
        n.put("audit", event);
        return n;
    }

    private synchronized void write(ObjectNode n) {
        try {
            out.write((n.toString() + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            // The audit log going away must not fail a pull; stderr says so.
            System.err.println("wharf: audit log write failed: " + e.getClass().getSimpleName());
        }
    }

    @Override
    public synchronized void close() throws IOException {
        if (closeOut) {
            out.close();
        } else if (out instanceof PrintStream p) {
            p.flush();
        }
    }
}
