package dev.wharf.auth.access;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Who may do what, as the config says: each project's visibility and {@code pull} list, the groups
 * ({@code auth.groups}) and the admins ({@code auth.admins}). Immutable; built once at start-up. A {@code pull} or
 * {@code admins} entry names a user or a group; a principal matches it by its own name, by a group of
 * {@code auth.groups} that lists it, or by a group it brings itself (an OIDC token's mapped groups).
 */
public final class AccessRules {
    /** One project as access sees it: public (anyone pulls) or private (only {@code pull}). */
    public record ProjectAccess(boolean isPublic, Set<String> pull) {
        public ProjectAccess {
            pull = Set.copyOf(pull);
        }
    }

    private final Map<String, ProjectAccess> projects;
    private final Map<String, Set<String>> groups;
    private final Set<String> admins;

    /**
     * @param projects by project name
     * @param groups   group name to its members ({@code auth.groups})
     * @param admins   users and groups who may use the admin API ({@code auth.admins})
     */
    public AccessRules(Map<String, ProjectAccess> projects, Map<String, List<String>> groups, List<String> admins) {
        this.projects = Map.copyOf(projects);
        Map<String, Set<String>> g = new java.util.HashMap<>();
        groups.forEach((k, v) -> g.put(k, Set.copyOf(v)));
        this.groups = Map.copyOf(g);
        this.admins = Set.copyOf(admins);
    }

    /** True if anyone, signed in or not, may pull from {@code project}. Unknown projects are not public. */
    public boolean isPublic(String project) {
        ProjectAccess p = projects.get(project);
        return p != null && p.isPublic();
    }

    /** True if some project is private: then {@code GET /v2/} challenges too. */
    public boolean anyPrivate() {
        return projects.values().stream().anyMatch(p -> !p.isPublic());
    }

    /** True if {@code who} (null: anonymous) may pull from {@code project}. */
    public boolean mayPull(Principal who, String project) {
        ProjectAccess p = projects.get(project);
        if (p == null) {
            return false;
        }
        if (p.isPublic()) {
            return true;
        }
        return who != null && matches(who, p.pull());
    }

    /** True if {@code who} may use the admin API. */
    public boolean isAdmin(Principal who) {
        return who != null && matches(who, admins);
    }

    /** Every name {@code who} answers to: itself, the groups of {@code auth.groups} it is in, its own groups. */
    public Set<String> namesOf(Principal who) {
        Set<String> names = new HashSet<>();
        names.add(who.name());
        names.addAll(who.groups());
        groups.forEach((group, members) -> {
            if (members.contains(who.name()) || who.groups().stream().anyMatch(members::contains)) {
                names.add(group);
            }
        });
        return names;
    }

    private boolean matches(Principal who, Set<String> allowed) {
        return namesOf(who).stream().anyMatch(allowed::contains);
    }
}
