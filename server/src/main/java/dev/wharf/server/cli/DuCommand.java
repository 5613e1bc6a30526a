package dev.wharf.server.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.StorageUsage;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import dev.wharf.storage.s3.BucketAudit;
import dev.wharf.storage.s3.S3Tier;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wharf du [--storage DIR | --config FILE] [--json]}: bytes on disk per project (see {@link StorageUsage}).
 * Reads the files only, so it may run beside a running server.
 */
@Command(name = "du", mixinStandardHelpOptions = true, versionProvider = WharfVersion.class,
        synopsisHeading = "usage: ", customSynopsis = DuCommand.USAGE,
        description = {"Bytes on disk per project.",
                "From the storage directory: --storage, or --config's storage.path, or ./data.",
                "Reads the files only, so it may run beside a running wharf. A blob two projects share counts in "
                        + "both, once in the total."})
public final class DuCommand implements Callable<Integer> {
    public static final String USAGE = "wharf du [--storage DIR | --config FILE] [--json]";

    private final Streams io;

    @Option(names = "--storage", paramLabel = "DIR", description = "the storage root")
    private String storage;

    @Option(names = "--config", paramLabel = "FILE", description = "take storage.path (and the projects) from FILE")
    private String config;

    @Option(names = "--json", description = "print JSON instead of a table")
    private boolean json;

    public DuCommand(Streams io) {
        this.io = io;
    }

    /** Prints the table (or JSON); returns 0. A bad location is a {@link UsageError} (exit 2). */
    @Override
    public Integer call() throws Exception {
        PrintStream out = io.out();
        StorageLocation location = StorageLocation.resolve(storage, config);
        StorageUsage usage = StorageUsage.measure(new ContentStore(location.path()));
        Map<String, StorageUsage.ProjectUsage> byName = new TreeMap<>();
        location.projects().forEach(p -> byName.put(p, new StorageUsage.ProjectUsage(p, 0, 0, 0)));
        usage.projects().forEach(p -> byName.put(p.project(), p));
        List<StorageUsage.ProjectUsage> projects = new ArrayList<>(byName.values());
        if (json) {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode root = mapper.createObjectNode().put("storage", location.path().toString());
            ArrayNode list = root.putArray("projects");
            projects.forEach(p -> list.addObject().put("name", p.project()).put("blobs", p.blobs())
                    .put("bytes", p.bytes()).put("missingBlobs", p.missing()));
            root.putObject("total").put("blobs", usage.blobs()).put("bytes", usage.bytes());
            root.putObject("quarantine").put("files", usage.quarantinedFiles()).put("bytes", usage.quarantinedBytes());
            out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root));
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
        if (location.s3() != null) {
            try (S3Tier tier = S3Tier.open(location.s3(), (op, ok, nanos) -> { })) {
                BucketAudit.Usage bucket = new BucketAudit(tier).usage();
                out.printf(Locale.ROOT, row, "PROJECT (S3)", "BLOBS", "SIZE", "BYTES", "MISSING");
                for (BucketAudit.ProjectUsage p : bucket.projects()) {
                    out.printf(Locale.ROOT, row, p.project(), p.blobs(), Sizes.human(p.bytes()), p.bytes(),
                            p.missing());
                }
                out.printf(Locale.ROOT, row, "all (unique)", bucket.blobs(), Sizes.human(bucket.bytes()),
                        bucket.bytes(), "");
                out.println("bucket " + location.s3().bucket() + " prefix '" + location.s3().prefix()
                        + "'; the rows above it are the local hot tier");
            }
        }
        return 0;
    }
}
