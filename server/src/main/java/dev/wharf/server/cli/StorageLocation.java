package dev.wharf.server.cli;

import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ConfigLoader;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.config.WharfConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Which storage directory {@code wharf du} and {@code wharf verify} work on: {@code --storage DIR}, else the
 * {@code storage.path} of {@code --config FILE}, else the embedded defaults' ({@code ./data}), as {@code serve}
 * would use it. It must already hold a store: these commands never create one.
 *
 * @param path     the storage root
 * @param projects the configured projects (empty without {@code --config} and with {@code --storage} alone)
 * @param s3       the config's {@code storage.s3} (the bucket behind the hot tier), or null
 */
record StorageLocation(Path path, List<String> projects, dev.wharf.storage.s3.S3Settings s3) {
    static StorageLocation resolve(String storage, String configFile) throws UsageError {
        WharfConfig config;
        try {
            config = configFile == null ? (storage == null ? ConfigLoader.defaults() : null)
                    : ConfigLoader.load(Path.of(configFile));
        } catch (ConfigException e) {
            throw new UsageError(e.getMessage());
        }
        Path path = storage != null ? Path.of(storage) : config.storagePath();
        List<String> projects = config == null || configFile == null ? List.of()
                : config.projects().stream().map(ProjectConfig::name).toList();
        if (!Files.isDirectory(path.resolve("blobs"))) {
            throw new UsageError("no wharf storage at " + path.toAbsolutePath() + " (it has no blobs/ directory)"
                    + (storage == null && configFile == null ? "; give --storage DIR or --config FILE" : ""));
        }
        return new StorageLocation(path.toAbsolutePath().normalize(), projects,
                config == null || configFile == null ? null : config.s3());
    }
}
