package dev.wharf.server.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;

/** The version the build stamped into {@code wharf-version.properties} (a Maven-filtered resource). */
public final class WharfVersion implements CommandLine.IVersionProvider {
    private static final String RESOURCE = "/wharf-version.properties";

    /** The project version, or "unknown" when the resource is missing or was not filtered. */
    public static String get() {
        Properties p = new Properties();
        try (InputStream in = WharfVersion.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            return "unknown";
        }
        String v = p.getProperty("version", "unknown");
        return v.contains("${") ? "unknown" : v;
    }

    @Override
    public String[] getVersion() {
        return new String[] {"wharf " + get()};
    }
}
