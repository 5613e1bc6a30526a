package dev.wharf.server.api;

/**
 * A client's text as it may appear in an error message or a log line: cut to a bounded length, so a long path, name
 * or query value cannot flood a response or a log.
 */
public final class Excerpt {
    /** The usual bound: long enough for any valid name, short enough for one log line. */
    public static final int DEFAULT = 100;

    private Excerpt() {
    }

    /** {@code text} cut to {@link #DEFAULT} characters, with "..." where it was cut. */
    public static String of(String text) {
        return of(text, DEFAULT);
    }

    /** {@code text} cut to {@code max} characters, with "..." where it was cut. */
    public static String of(String text, int max) {
        return text.length() > max ? text.substring(0, max) + "..." : text;
    }
}
