package dev.wharf.server.cli;

import java.util.Locale;

/** Byte counts for people: {@code 512 B}, {@code 1.5 KiB}, {@code 12.3 MiB}, {@code 1.0 GiB}. */
final class Sizes {
    private Sizes() {
    }

    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** {@code 12.3/27.0 MiB}: both counts in the unit of the total. */
    static String pair(long done, long total) {
        String t = human(total);
        int space = t.indexOf(' ');
        String unit = t.substring(space + 1);
        double scale = switch (unit) {
            case "KiB" -> 1024d;
            case "MiB" -> 1024d * 1024;
            case "GiB" -> 1024d * 1024 * 1024;
            case "TiB" -> 1024d * 1024 * 1024 * 1024;
            case "PiB" -> 1024d * 1024 * 1024 * 1024 * 1024;
            default -> 1d;
        };
        String d = scale == 1d ? Long.toString(done) : String.format(Locale.ROOT, "%.1f", done / scale);
        return d + "/" + t;
    }

    static String seconds(double s) {
        return String.format(Locale.ROOT, "%.1f s", s);
    }
}
