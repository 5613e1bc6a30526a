package dev.wharf.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;

/**
 * Reads the {@code tls} section: {@code cert} and {@code key} (both required, both readable files, relative to
 * the config file's folder) and the optional {@code provider}. Whether the files hold a usable pair is checked
 * when the server starts, which names the file at fault.
 */
final class TlsReader {
    private static final Set<String> TLS_KEYS = Set.of("cert", "key", "provider");
    private static final Set<String> PROVIDERS = Set.of("openssl", "jdk");

    private final ConfigReader values;

    TlsReader(ConfigReader values) {
        this.values = values;
    }

    /** The {@code tls} section of the top-level mapping, or null when it is absent (plain HTTP). */
    TlsConfig tls(ObjectNode top) {
        if (!top.has("tls") || top.get("tls").isNull()) {
            return null;
        }
        ObjectNode t = values.mapping(top.get("tls"), "tls", TLS_KEYS);
        for (String required : new String[] {"cert", "key"}) {
            if (!t.has(required)) {
                throw values.fail("tls." + required, "is required when tls is set");
            }
        }
        String provider = null;
        if (t.has("provider")) {
            provider = values.string(t.get("provider"), "tls.provider");
            if (!PROVIDERS.contains(provider)) {
                throw values.fail("tls.provider", "must be openssl or jdk, got '" + provider + "'");
            }
        }
        return new TlsConfig(values.readableFile(t.get("cert"), "tls.cert"),
                values.readableFile(t.get("key"), "tls.key"), provider);
    }
}
