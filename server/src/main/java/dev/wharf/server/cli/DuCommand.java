package dev.wharf.server.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.StorageUsage;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code wharf du [--storage DIR | --config FILE] [--json]}: bytes on disk per project (see {@link StorageUsage}).
 * Reads the files only, so it may run beside a running server.
 */
public final class DuCommand {
    public static final String USAGE = "wharf du [--storage DIR | --config FILE] [--json]";

    private DuCommand() {
    }

    /** Runs the command; returns the exit code (0, or 2 for a usage error). */
    public static int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
        Args args;
        StorageLocation location;
        try {
            args = Args.parse(argv, Set.of("--storage", "--config"), Set.of("--json"), Map.of());
            location = StorageLocation.resolve(args);
        } catch (Args.UsageError e) {
            err.println("wharf du: " + e.getMessage());
            err.println("usage: " + USAGE);
            return 2;
        }
        StorageUsage usage = StorageUsage.measure(new ContentStore(location.path()));
        Map<String, StorageUsage.ProjectUsage> byName = new TreeMap<>();
        location.projects().forEach(p -> byName.put(p, new StorageUsage.ProjectUsage(p, 0, 0, 0)));
        usage.projects().forEach(p -> byName.put(p.project(), p));
        List<StorageUsage.ProjectUsage> projects = new ArrayList<>(byName.values());
        if (args.flag("--json")) {
            ObjectMapper json = new ObjectMapper();
            ObjectNode root = json.createObjectNode().put("storage", location.path().toString());
            ArrayNode list = root.putArray("projects");
            projects.forEach(p -> list.addObject().put("name", p.project()).put("blobs", p.blobs())
                    .put("bytes", p.bytes()).put("missingBlobs", p.missing()));
            root.putObject("total").put("blobs", usage.blobs()).put("bytes", usage.bytes());
            root.putObject("quarantine").put("files", usage.quarantinedFiles()).put("bytes", usage.quarantinedBytes());
            out.println(json.writerWithDefaultPrettyPrinter().writeValueAsString(root));
            return 0;
        }
        int width = Math.max(14, projects.stream().mapToInt(p -> p.project().length()).max().orElse(0));
        String row = "%-" + width + "s %8s %11s %15s %8s%n";
        out.printf(Locale.ROOT, row, "PROJECT", "BLOBS", "SIZE", "BYTES", "MISSING");
        for (StorageUsage.ProjectUsage p : projects) {
            out.printf(Locale.ROOT, row, p.project(), p.blobs(), Sizes.human(p.bytes()), p.bytes(), p.missing());
        }
        out.printf(Locale.ROOT, row, "all (unique)", usage.blobs(), Sizes.human(usage.bytes()), usage.bytes(), "");
        if (usage.quarantinedFiles() > 0) {
            out.printf(Locale.ROOT, row, "quarantine", usage.quarantinedFiles(), Sizes.human(usage.quarantinedBytes()),
                    usage.quarantinedBytes(), "");
        }
        out.println("storage " + location.path() + "; a blob two projects share counts in both, once in all");
        return 0;
    }
}
