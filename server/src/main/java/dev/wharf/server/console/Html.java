package dev.wharf.server.console;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** Small HTML helpers: escaping, query strings, human sizes, and the page frame every console page shares. */
final class Html {
    private Html() {
    }

    /** Escapes text for an element body or a quoted attribute value. */
    static String esc(Object o) {
        if (o == null) {
            return "";
        }
        String s = o.toString();
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /** A query-string value. */
    static String q(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** 1536 → "1.5 KiB". */
    static String bytes(double n) {
        if (Double.isNaN(n)) {
            return "–";
        }
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        int u = 0;
        double v = n;
        while (Math.abs(v) >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? String.format(Locale.ROOT, "%.0f B", v) : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** 0.875 → "87.5 %"; NaN → "–". */
    static String percent(double ratio) {
        return Double.isNaN(ratio) ? "–" : String.format(Locale.ROOT, "%.1f %%", ratio * 100);
    }

    /** A number as a data attribute value: integral values without a fraction, as Prometheus shows them. */
    static String raw(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    /**
     * The page frame: header with navigation, the body, one external script and stylesheet (no inline script or
     * style: the Content-Security-Policy forbids them). {@code csrf} is null on the login page (no logout form).
     */
    static String page(String title, String pageId, String csrf, String body) {
        StringBuilder b = new StringBuilder(4096);
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<title>").append(esc(title)).append(" · wharf</title>")
                .append("<link rel=\"stylesheet\" href=\"/ui/static/console.css\">")
                .append("<script src=\"/ui/static/console.js\" defer></script>")
                .append("</head><body data-page=\"").append(esc(pageId)).append("\">")
                .append("<header><a class=\"brand\" href=\"/ui/overview\">wharf</a>");
        if (csrf != null) {
            b.append("<nav aria-label=\"Main\"><ul>");
            for (String[] link : new String[][] {{"overview", "Overview"}, {"fills", "Fills"},
                    {"projects", "Browse"}, {"prefetch", "Prefetch"}}) {
                boolean here = pageId.equals(link[0]);
                b.append("<li><a href=\"/ui/").append(link[0]).append("\"")
                        .append(here ? " aria-current=\"page\"" : "").append(">").append(link[1]).append("</a></li>");
            }
            b.append("</ul></nav>")
                    .append("<form class=\"logout\" method=\"post\" action=\"/ui/logout\">")
                    .append(csrfField(csrf))
                    .append("<button type=\"submit\">Log out</button></form>");
        }
        b.append("</header><main id=\"main\"><h1>").append(esc(title)).append("</h1>").append(body)
                .append("</main></body></html>\n");
        return b.toString();
    }

    static String csrfField(String csrf) {
        return "<input type=\"hidden\" name=\"csrf\" value=\"" + esc(csrf) + "\">";
    }
}
