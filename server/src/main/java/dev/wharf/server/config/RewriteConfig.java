package dev.wharf.server.config;

import java.util.List;
import java.util.regex.Pattern;

/**
 * The {@code rewrite:} section: the rules of the image-rewrite admission webhook ({@code POST /admission/rewrite}),
 * in harbor-container-webhook's format. Immutable; read by {@link RewriteReader}. No rules means no webhook.
 *
 * @param rules the rules in file order; the first that rewrites an image wins
 */
public record RewriteConfig(List<Rule> rules) {
    /** No {@code rewrite:} section: the webhook answers 404. */
    public static final RewriteConfig NONE = new RewriteConfig(List.of());

    public RewriteConfig {
        rules = List.copyOf(rules);
    }

    /**
     * One rule. An image whose normalised reference ({@code nginx} reads {@code docker.io/library/nginx:latest})
     * matches one of {@code matches} and none of {@code excludes} gets {@code replace} in place of its registry.
     *
     * @param name          for log lines
     * @param matches       regexes, found anywhere in the normalised reference unless anchored; at least one
     * @param excludes      regexes that veto a match
     * @param replace       a registry host with an optional path below it, no trailing slash
     * @param checkUpstream rewrite only if wharf resolves the rewritten image's manifest; else try the next rule
     */
    public record Rule(String name, List<Pattern> matches, List<Pattern> excludes, String replace,
                       boolean checkUpstream) {
        public Rule {
            matches = List.copyOf(matches);
            excludes = List.copyOf(excludes);
        }
    }
}
