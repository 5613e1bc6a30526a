package dev.wharf.storage;

import java.util.Objects;

/** One cached tag: (project, repository, tag). Validated like the store's paths, so it always names a safe file. */
public record TagRef(String project, String repository, String tag) {
    public TagRef {
        ContentStore.checkSegment(project);
        ContentStore.checkRepository(repository);
        ContentStore.checkSegment(tag);
    }

    /** {@code project/repository:tag}. */
    @Override
    public String toString() {
        return project + "/" + repository + ":" + Objects.requireNonNull(tag);
    }
}
