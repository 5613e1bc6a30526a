package dev.wharf.server.webhook;

import dev.wharf.server.config.RewriteConfig;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the {@code rewrite.rules} to one image, with harbor-container-webhook's semantics: rules are tried in
 * order on the normalised reference; a rule applies when one of its {@code matches} is found and none of its
 * {@code excludes}; the first rule that applies rewrites the image, except that a rule with {@code checkUpstream}
 * whose rewritten image wharf cannot resolve passes the image on to the next rule. An image no rule rewrites, or
 * one that does not parse, is returned as written.
 */
public final class ImageRewriter {
    private static final Logger LOG = LoggerFactory.getLogger(ImageRewriter.class);

    private final List<RewriteConfig.Rule> rules;
    private final ManifestCheck check;

    public ImageRewriter(List<RewriteConfig.Rule> rules, ManifestCheck check) {
        this.rules = List.copyOf(rules);
        this.check = check;
    }

    /** True if there is no rule at all. */
    public boolean isEmpty() {
        return rules.isEmpty();
    }

    /** The image to run instead of {@code image}: the rewritten reference, or {@code image} itself. */
    public CompletableFuture<String> rewrite(String image) {
        ImageName name;
        try {
            name = ImageName.parse(image);
        } catch (IllegalArgumentException e) {
            LOG.debug("admission: leaving image '{}' alone: {}", image, e.getMessage());
            return CompletableFuture.completedFuture(image);
        }
        return from(0, image, name);
    }

    /** Tries the rules from {@code index} on; a chain at most as long as the rule list. */
    private CompletableFuture<String> from(int index, String image, ImageName name) {
        String normalised = name.toString();
        for (int i = index; i < rules.size(); i++) {
            RewriteConfig.Rule rule = rules.get(i);
            if (!found(rule.matches(), normalised) || found(rule.excludes(), normalised)) {
                continue;
            }
            String rewritten = name.withRegistry(rule.replace());
            if (!rule.checkUpstream()) {
                LOG.debug("admission: rule '{}' rewrites {} to {}", rule.name(), image, rewritten);
                return CompletableFuture.completedFuture(rewritten);
            }
            int next = i + 1;
            return check.resolves(pathBelowHost(rule.replace()) + name.repository(), name.manifestReference())
                    .thenCompose(ok -> {
                        if (ok) {
                            LOG.debug("admission: rule '{}' rewrites {} to {} (wharf resolves it)", rule.name(),
                                    image, rewritten);
                            return CompletableFuture.completedFuture(rewritten);
                        }
                        LOG.info("admission: rule '{}' leaves {} alone: wharf cannot resolve {}", rule.name(),
                                image, rewritten);
                        return from(next, image, name);
                    });
        }
        return CompletableFuture.completedFuture(image);
    }

    private static boolean found(List<Pattern> patterns, String text) {
        for (Pattern p : patterns) {
            if (p.matcher(text).find()) {
                return true;
            }
        }
        return false;
    }

    /** {@code wharf.example.com/docker.io} gives {@code docker.io/}; a bare host gives the empty string. */
    private static String pathBelowHost(String replace) {
        int slash = replace.indexOf('/');
        return slash < 0 ? "" : replace.substring(slash + 1) + "/";
    }
}
