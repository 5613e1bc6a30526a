package dev.wharf.server.cli;

import dev.wharf.server.prefetch.ImageProgress;
import java.io.PrintStream;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code wharf prefetch}'s live output. On a terminal: a line per finished image, and below them a block redrawn in
 * place (ANSI cursor movement) with a progress bar per running image, bytes and layers, and a total. Elsewhere (a
 * log, a pipe): plain lines when an image starts and ends, and every {@code plainEvery} a line per running image.
 *
 * <p>Threading: {@link #tick} and {@link #finish} are called from one thread (the command's).
 */
final class ProgressDisplay {
    private static final int BAR = 16;
    /** Width of the reference column in the live block, which must fit one terminal line to be redrawn in place. */
    private static final int LIVE_NAME = 24;
    private static final int NAME = 44;

    private final PrintStream out;
    private final boolean tty;
    private final List<ImageProgress> images;
    private final long plainEveryNanos;
    private final int columns = columns();
    private final Set<ImageProgress> started = new HashSet<>();
    private final Set<ImageProgress> reported = new HashSet<>();
    private int liveLines;
    private long lastPlain = System.nanoTime();

    /**
     * Whether standard output is a terminal. Before JDK 22 {@code System.console()} is null whenever input or
     * output is redirected; from 22 on it is a console even then, and only {@code Console.isTerminal()} (new in
     * 22, so called by reflection here: the code compiles for 17) tells.
     */
    static boolean isTerminal() {
        java.io.Console console = System.console();
        if (console == null) {
            return false;
        }
        if (Runtime.version().feature() < 22) {
            return true;
        }
        try {
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false; // unknown: plain lines are safe anywhere, escape codes are not
        }
    }

    ProgressDisplay(PrintStream out, boolean tty, List<ImageProgress> images, long plainEveryMillis) {
        this.out = out;
        this.tty = tty;
        this.images = images;
        this.plainEveryNanos = plainEveryMillis * 1_000_000L;
    }

    void tick() {
        StringBuilder sb = new StringBuilder();
        if (tty && liveLines > 0) {
            sb.append("\033[").append(liveLines).append("F\033[J"); // back to the block's first line; clear below
        }
        for (ImageProgress i : images) {
            // Resolved (its digest known): say what it pulls, even if it finished within this tick.
            if (!tty && i.digest() != null && started.add(i)) {
                sb.append("pulling ").append(i.reference()).append(": ").append(i.manifests())
                        .append(i.manifests() == 1 ? " manifest, " : " manifests, ").append(i.layersTotal())
                        .append(" layers, ").append(Sizes.human(i.bytesTotal())).append('\n');
            }
            if (i.finished() && reported.add(i)) {
                sb.append(finalLine(i)).append('\n');
            }
        }
        liveLines = 0;
        if (tty) {
            for (ImageProgress i : images) {
                if (i.state() == ImageProgress.State.RESOLVING || i.state() == ImageProgress.State.PULLING) {
                    sb.append(barLine(i)).append('\n');
                    liveLines++;
                }
            }
            if (reported.size() < images.size()) {
                sb.append(totalLine()).append('\n');
                liveLines++;
            }
        } else if (System.nanoTime() - lastPlain >= plainEveryNanos) {
            lastPlain = System.nanoTime();
            for (ImageProgress i : images) {
                if (i.state() == ImageProgress.State.PULLING) {
                    sb.append(name(i.reference().text(), NAME)).append(' ').append(counts(i)).append('\n');
                }
            }
        }
        if (!sb.isEmpty()) {
            out.print(sb);
            out.flush();
        }
    }

    /** The last draw: every image reported, the live block gone. */
    void finish() {
        tick();
        if (tty && liveLines > 0) {
            out.print("\033[" + liveLines + "F\033[J");
            out.flush();
            liveLines = 0;
        }
    }

    /** One running image, clipped to the terminal's width (a wrapped line would break the redraw). */
    private String barLine(ImageProgress i) {
        String name = name(i.reference().text(), LIVE_NAME);
        String line;
        if (i.state() == ImageProgress.State.RESOLVING) {
            line = "  " + name + " resolving manifests...";
        } else {
            long total = Math.max(1, i.bytesTotal());
            int filled = (int) Math.min(BAR, i.bytesDone() * BAR / total);
            line = "  " + name + " [" + "#".repeat(filled) + "-".repeat(BAR - filled) + "] " + counts(i);
        }
        return line.length() < columns ? line : line.substring(0, columns - 1);
    }

    private static String counts(ImageProgress i) {
        long pct = i.bytesTotal() == 0 ? 100 : i.bytesDone() * 100 / i.bytesTotal();
        return String.format(Locale.ROOT, "%3d%% %s  %d/%d layers", pct, Sizes.pair(i.bytesDone(), i.bytesTotal()),
                i.layersDone(), i.layersTotal());
    }

    /** The terminal's width if the shell exported it, else the classic 80. */
    private static int columns() {
        try {
            int c = Integer.parseInt(System.getenv().getOrDefault("COLUMNS", "80").trim());
            return c >= 40 ? c : 80;
        } catch (NumberFormatException e) {
            return 80;
        }
    }

    private String totalLine() {
        long done = images.stream().filter(i -> i.state() == ImageProgress.State.DONE).count();
        long failed = images.stream().filter(i -> i.state() == ImageProgress.State.FAILED).count();
        long bytes = images.stream().mapToLong(ImageProgress::bytesDone).sum();
        String line = "  " + (done + failed) + "/" + images.size() + " images finished" + (failed > 0 ? " (" + failed
                + " failed)" : "") + ", " + Sizes.human(bytes) + " received";
        return line.length() < columns ? line : line.substring(0, columns - 1);
    }

    static String finalLine(ImageProgress i) {
        if (i.state() == ImageProgress.State.FAILED) {
            return "FAILED  " + i.reference() + ": " + i.error();
        }
        return "ok      " + name(i.reference().text(), NAME) + " " + Sizes.human(i.bytesTotal()) + ", " + i.layersTotal()
                + " layers, " + i.manifests() + (i.manifests() == 1 ? " platform" : " platforms") + " in "
                + Sizes.seconds(i.seconds()) + (i.note() == null ? "" : " (" + i.note() + ")");
    }

    /** The reference padded or cut (from the left: the end says most) to {@code width}. */
    private static String name(String reference, int width) {
        String s = reference.length() > width ? "..." + reference.substring(reference.length() - width + 3) : reference;
        return String.format(Locale.ROOT, "%-" + width + "s", s);
    }
}
