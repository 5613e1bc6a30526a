package dev.wharf.server.upstream;

import dev.wharf.server.config.ProjectConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A configured project at run time: its config and the upstream endpoints it pulls from, in failover order, each
 * with its {@link CircuitBreaker}. Immutable but for the breakers, which guard their own state.
 */
public final class Project {
    private final ProjectConfig config;
    private final List<UpstreamEndpoint> endpoints;
    private final List<CircuitBreaker> breakers;

    /** A project with one upstream endpoint (null in tests that only route). */
    public Project(ProjectConfig config, UpstreamEndpoint endpoint) {
        this(config, endpoint == null ? List.of() : List.of(endpoint));
    }

    private Project(ProjectConfig config, List<UpstreamEndpoint> endpoints) {
        this.config = config;
        this.endpoints = List.copyOf(endpoints);
        List<CircuitBreaker> b = new ArrayList<>();
        for (UpstreamEndpoint e : this.endpoints) {
            b.add(new CircuitBreaker("upstream " + e.base() + " of project " + config.name()));
        }
        this.breakers = List.copyOf(b);
    }

    /** A project with its upstream endpoints in failover order (at least one). */
    public static Project withEndpoints(ProjectConfig config, List<UpstreamEndpoint> endpoints) {
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("project " + config.name() + " needs an upstream endpoint");
        }
        return new Project(config, endpoints);
    }

    public ProjectConfig config() {
        return config;
    }

    public String name() {
        return config.name();
    }

    /** The first (primary) upstream endpoint, or null for a routing-only project in tests. */
    public UpstreamEndpoint endpoint() {
        return endpoints.isEmpty() ? null : endpoints.get(0);
    }

    /** All upstream endpoints, in the order they are tried. */
    public List<UpstreamEndpoint> endpoints() {
        return endpoints;
    }

    /** The breaker of {@code endpoints().get(i)}. */
    public CircuitBreaker breaker(int i) {
        return breakers.get(i);
    }

    /** For error messages: "project X (upstream URL)", or every URL when there are several. */
    public String describe() {
        if (config.upstreams().size() > 1) {
            return "project " + config.name() + " (upstreams " + config.upstreams().stream().map(String::valueOf)
                    .collect(Collectors.joining(", ")) + ")";
        }
        return "project " + config.name() + " (upstream " + config.upstream() + ")";
    }

    @Override
    public String toString() {
        return describe();
    }
}
