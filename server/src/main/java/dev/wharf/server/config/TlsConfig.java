package dev.wharf.server.config;

import java.nio.file.Path;

/**
 * The {@code tls} section: with it, {@code listen} serves HTTPS (HTTP/1.1 and HTTP/2 by ALPN).
 *
 * @param cert     PEM certificate, chain allowed; watched and reloaded on change
 * @param key      PEM private key, RSA or EC, PKCS#1, SEC1 or PKCS#8; watched with {@code cert}
 * @param provider the TLS engine, {@code openssl} (Netty's BoringSSL) or {@code jdk}; null for openssl where its
 *                 native library loads, else jdk
 */
public record TlsConfig(Path cert, Path key, String provider) {
}
