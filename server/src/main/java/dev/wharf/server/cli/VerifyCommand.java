package dev.wharf.server.cli;

import dev.wharf.storage.BlobVerifier;
import dev.wharf.storage.ContentStore;
import dev.wharf.storage.Digest;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

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
public final class VerifyCommand {
    public static final String USAGE = "wharf verify [--storage DIR | --config FILE] [--jobs N]";

    private VerifyCommand() {
    }

    /** Runs the command; returns the exit code: 0 all good, 1 corrupt or unreadable blobs, 2 usage error. */
    public static int run(String[] argv, PrintStream out, PrintStream err, boolean tty) throws Exception {
        Args args;
        StorageLocation location;
        int jobs;
        try {
            args = Args.parse(argv, Set.of("--storage", "--config", "--jobs"), Set.of(), Map.of());
            location = StorageLocation.resolve(args);
            jobs = args.positiveInt("--jobs", Math.min(4, Runtime.getRuntime().availableProcessors()));
        } catch (Args.UsageError e) {
            err.println("wharf verify: " + e.getMessage());
            err.println("usage: " + USAGE);
            return 2;
        }
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
