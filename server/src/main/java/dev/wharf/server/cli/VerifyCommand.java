package dev.wharf.server.cli;

import dev.wharf.storage.BlobVerifier;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import java.io.IOException;
import java.io.PrintStream;
import dev.wharf.storage.s3.BucketAudit;
import dev.wharf.storage.s3.S3Tier;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wharf verify [--storage DIR | --config FILE] [--jobs N]}: re-hashes every committed blob, moves each one
 * whose bytes do not match its digest to {@code <storage>/quarantine/}, and reports them. Exits 1 if any blob was
 * corrupt or unreadable.
 *
 * <p>Safe while wharf runs on the same storage: only files under blobs/ are read, and they appear there complete
 * (fills are renamed into place after their digest check), so no hash can race a commit; a quarantine is one atomic
 * rename (see {@link BlobVerifier}). The running server notices the missing file on the next request for it and
 * fetches it again from the upstream.
 */
@Command(name = "verify", mixinStandardHelpOptions = true, versionProvider = WharfVersion.class,
        synopsisHeading = "usage: ", customSynopsis = VerifyCommand.USAGE,
        description = {"Re-hash every stored blob; quarantine and report mismatches.",
                "A blob whose bytes do not match its digest moves to <storage>/quarantine/.",
                "Safe beside a running wharf on the same storage: it fetches a quarantined blob again on the next "
                        + "request. Exits 1 if any blob was corrupt or unreadable."})
public final class VerifyCommand implements Callable<Integer> {
    public static final String USAGE = "wharf verify [--storage DIR | --config FILE] [--jobs N]";

    private final Streams io;

    @Option(names = "--storage", paramLabel = "DIR", description = "the storage root")
    private String storage;

    @Option(names = "--config", paramLabel = "FILE", description = "take storage.path from FILE")
    private String config;

    @Option(names = "--jobs", paramLabel = "N", description = "blobs hashed at once (default: cores, at most 4)")
    private String jobsOption;

    public VerifyCommand(Streams io) {
        this.io = io;
    }

    /** Runs the command; returns the exit code: 0 all good, 1 corrupt or unreadable blobs (2 by a UsageError). */
    @Override
    public Integer call() throws Exception {
        PrintStream out = io.out();
        boolean tty = io.tty();
        StorageLocation location = StorageLocation.resolve(storage, config);
        int jobs = Options.positiveInt("--jobs", jobsOption, Math.min(4, Runtime.getRuntime().availableProcessors()));
        ContentStore store = new ContentStore(location.path());
        BlobVerifier verifier = new BlobVerifier(store);
        List<Digest> digests = new ArrayList<>();
        store.forEachBlob(digests::add);
        long start = System.nanoTime();
        AtomicLong checked = new AtomicLong();
        AtomicLong bytes = new AtomicLong();
        AtomicLong corrupt = new AtomicLong();
        AtomicLong unreadable = new AtomicLong();
        AtomicLong vanished = new AtomicLong();
        out.println("verifying " + digests.size() + " blobs under " + location.path());
        out.flush();
        ExecutorService pool = Executors.newFixedThreadPool(jobs, r -> {
            Thread t = new Thread(r, "wharf-verify");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> pending = new ArrayList<>();
            for (Digest d : digests) {
                pending.add(pool.submit(() -> {
                    try {
                        BlobVerifier.Result r = verifier.verify(d);
                        bytes.addAndGet(r.size());
                        switch (r.outcome()) {
                            case CORRUPT -> {
                                corrupt.incrementAndGet();
                                line(out, tty, "CORRUPT " + d + ": its " + r.size() + " bytes hash to " + r.actual()
                                        + "; quarantined as " + r.quarantined());
                            }
                            case VANISHED -> vanished.incrementAndGet();
                            case OK -> {
                            }
                        }
                    } catch (IOException e) {
                        unreadable.incrementAndGet();
                        line(out, tty, "UNREADABLE " + d + ": " + e.getMessage() + " (left in place)");
                    }
                    checked.incrementAndGet();
                }));
            }
            long lastDraw = 0;
            for (Future<?> f : pending) {
                while (true) {
                    try {
                        f.get(200, java.util.concurrent.TimeUnit.MILLISECONDS);
                        break;
                    } catch (java.util.concurrent.TimeoutException e) {
                        if (tty && System.nanoTime() - lastDraw > 200_000_000L) {
                            lastDraw = System.nanoTime();
                            synchronized (out) {
                                out.print("\r\033[K  " + checked.get() + "/" + digests.size() + " blobs, "
                                        + Sizes.human(bytes.get()));
                                out.flush();
                            }
                        }
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
        if (tty) {
            out.print("\r\033[K");
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long bad = corrupt.get() + unreadable.get();
        if (location.s3() != null) {
            out.println("verifying the blobs in bucket " + location.s3().bucket() + " prefix '"
                    + location.s3().prefix() + "'");
            try (S3Tier tier = S3Tier.open(location.s3(), (op, ok, nanos) -> { })) {
                BucketAudit.Verified v = new BucketAudit(tier).verify(text -> line(out, tty, text));
                out.println("verified " + v.checked() + " blobs in the bucket (" + Sizes.human(v.bytes()) + "): "
                        + (v.checked() - v.corrupt() - v.unreadable()) + " ok, " + v.corrupt()
                        + " corrupt (deleted from the bucket), " + v.unreadable() + " unreadable");
                bad += v.corrupt() + v.unreadable();
            }
        }
        out.println("verified " + checked.get() + " blobs (" + Sizes.human(bytes.get()) + ") in "
                + Sizes.seconds(seconds) + ": " + (checked.get() - bad - vanished.get()) + " ok, " + corrupt.get()
                + " corrupt" + (corrupt.get() > 0 ? " (quarantined under " + store.quarantineDir() + ")" : "")
                + ", " + unreadable.get() + " unreadable"
                + (vanished.get() > 0 ? ", " + vanished.get() + " gone meanwhile (evicted)" : ""));
        return bad > 0 ? 1 : 0;
    }

    private static void line(PrintStream out, boolean tty, String text) {
        synchronized (out) {
            out.println((tty ? "\r\033[K" : "") + text);
            out.flush();
        }
    }
}
