package dev.wharf.auth;

/** A username and password (or token) for an upstream. {@link #toString()} never shows the secret. */
public record Credentials(String username, String password) {
    @Override
    public String toString() {
        return "Credentials[username=" + username + ", password=***]";
    }
}
