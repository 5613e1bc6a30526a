package dev.wharf.server.proxy;

import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.upstream.UpstreamEndpoint;

/** A configured project at run time: its config and the upstream endpoint it pulls from. */
public record Project(ProjectConfig config, UpstreamEndpoint endpoint) {
    public String name() {
        return config.name();
    }

    /** For error messages: "project X (upstream URL)". */
    public String describe() {
        return "project " + config.name() + " (upstream " + config.upstream() + ")";
    }
}
