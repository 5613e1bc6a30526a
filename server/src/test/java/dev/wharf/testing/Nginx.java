package dev.wharf.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real nginx ({@code nginx-light}) in the foreground as one process ({@code master_process off}, so it runs as the
 * test's user and reads the test's temp files), with a config made of the {@code server} blocks a test gives. Each
 * request is logged in a fixed format ({@link Request}), so a test can count what reached which server and whether
 * it carried an {@code Authorization} header. Stopped by its own PID.
 */
public final class Nginx implements AutoCloseable {
    private static final Pattern LINE = Pattern.compile("^(\\S+) (\\S+) \"([^\"]*)\" (\\d{3}) auth=(yes|no)$");

    private final Path dir;
    private final Path accessLog;
    private final ChildProcess process;

    /** One logged request: the server address ({@code 127.0.0.2:8443}), method, URI, status, Authorization sent. */
    public record Request(String server, String method, String uri, int status, boolean authorization) {
    }

    private Nginx(String servers, List<InetSocketAddress> listens) throws IOException {
        Path binary = Tools.require("nginx");
        dir = Files.createTempDirectory("wharf-nginx");
        for (String t : List.of("body", "proxy", "fastcgi", "uwsgi", "scgi")) {
            Files.createDirectories(dir.resolve("tmp").resolve(t));
        }
        accessLog = dir.resolve("access.log");
        Files.createFile(accessLog);
        String conf = "daemon off;\nmaster_process off;\nworker_processes 1;\n"
                + "pid " + dir.resolve("nginx.pid") + ";\n"
                + "error_log " + dir.resolve("error.log") + " info;\n"
                + "events { worker_connections 1024; }\n"
                + "http {\n"
                + "  map $http_authorization $wharf_has_auth { \"\" no; default yes; }\n"
                + "  log_format wharf '$server_addr:$server_port $request_method \"$request_uri\" $status"
                + " auth=$wharf_has_auth';\n"
                + "  access_log " + accessLog + " wharf;\n"
                + "  client_body_temp_path " + dir.resolve("tmp/body") + ";\n"
                + "  proxy_temp_path " + dir.resolve("tmp/proxy") + ";\n"
                + "  fastcgi_temp_path " + dir.resolve("tmp/fastcgi") + ";\n"
                + "  uwsgi_temp_path " + dir.resolve("tmp/uwsgi") + ";\n"
                + "  scgi_temp_path " + dir.resolve("tmp/scgi") + ";\n"
                + "  default_type application/octet-stream;\n"
                + "  sendfile on;\n"
                + "  client_max_body_size 0;\n"
                + servers
                + "\n}\n";
        Path confFile = dir.resolve("nginx.conf");
        Files.writeString(confFile, conf, StandardCharsets.UTF_8);
        process = ChildProcess.start(List.of(binary.toString(), "-p", dir.toString(), "-c", confFile.toString(),
                "-e", dir.resolve("error.log").toString()), dir.resolve("stdout.log"), Map.of(), dir);
        try {
            process.awaitReady("nginx (" + confFile + ")", Duration.ofSeconds(15),
                    () -> listens.stream().allMatch(Nginx::accepting));
        } catch (AssertionError e) {
            String errors = Files.exists(dir.resolve("error.log"))
                    ? Files.readString(dir.resolve("error.log"), StandardCharsets.UTF_8) : "";
            close();
            throw new AssertionError(e.getMessage() + "\n--- error.log ---\n" + errors, e);
        }
    }

    /**
     * Starts nginx with these {@code server { ... }} blocks (paths absolute), and waits (at most 15 s) until every
     * address in {@code listens} accepts connections.
     */
    public static Nginx start(String servers, InetSocketAddress... listens) {
        try {
            return new Nginx(servers, List.of(listens));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A directory of this nginx's own, for files a config refers to (e.g. a flag file tested with {@code -f}). */
    public Path dir() {
        return dir;
    }

    /** Requests logged so far (nginx writes the line once the response is sent). */
    public List<Request> requests() {
        List<Request> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(accessLog, StandardCharsets.UTF_8)) {
                Matcher m = LINE.matcher(line);
                if (m.matches()) {
                    out.add(new Request(m.group(1), m.group(2), m.group(3), Integer.parseInt(m.group(4)),
                            m.group(5).equals("yes")));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** How many logged requests match. */
    public long count(Predicate<Request> which) {
        return requests().stream().filter(which).count();
    }

    /** The error log, for failure messages. */
    public String errorLog() {
        try {
            return Files.readString(dir.resolve("error.log"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no error log: " + e + ")";
        }
    }

    private static boolean accepting(InetSocketAddress address) {
        try (Socket s = new Socket()) {
            s.connect(address, 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** {@code 127.0.0.x:port} as an address to wait for. */
    public static InetSocketAddress address(String ip, int port) {
        try {
            return new InetSocketAddress(InetAddress.getByName(ip), port);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stops nginx by its PID and deletes its directory. */
    @Override
    public void close() {
        try {
            if (process != null && process.isAlive()) {
                process.stop(Duration.ofSeconds(10));
            }
        } finally {
            ChildProcess.deleteTree(dir);
        }
    }
}
