package dev.wharf.auth.access;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.Optional;

/**
 * The user and password of an {@code Authorization: Basic} header (RFC 7617). {@link #toString()} never shows the
 * password, so a record of this type may be logged by mistake without leaking it.
 */
public record BasicCredentials(String user, String password) {
    /** Longest header value read; bcrypt reads at most 72 password bytes, and an ID token fits in 8 KiB. */
    public static final int MAX_HEADER = 16 * 1024;

    /**
     * Parses a header value; empty when it is absent, not Basic, not base64, not UTF-8, has no colon, or has an
     * empty user name. Never throws.
     */
    public static Optional<BasicCredentials> parse(String header) {
        if (header == null || header.length() > MAX_HEADER) {
            return Optional.empty();
        }
        String h = header.strip();
        if (h.length() < 6 || !h.regionMatches(true, 0, "Basic ", 0, 6)) {
            return Optional.empty();
        }
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(h.substring(6).strip());
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            return Optional.empty();
        }
        int colon = text.indexOf(':');
        if (colon <= 0) {
            return Optional.empty();
        }
        String user = text.substring(0, colon);
        if (user.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            return Optional.empty();
        }
        return Optional.of(new BasicCredentials(user, text.substring(colon + 1)));
    }

    @Override
    public String toString() {
        return "BasicCredentials[user=" + user + ", password=***]";
    }
}
