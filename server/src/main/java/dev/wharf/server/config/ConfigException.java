package dev.wharf.server.config;

/** A configuration problem; the message names the key and the file. Start-up stops on it. */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }
}
