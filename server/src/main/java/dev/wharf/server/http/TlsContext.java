package dev.wharf.server.http;

import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's TLS material: a certificate chain and its key read from PEM files (RSA or EC; PKCS#1, SEC1 or
 * PKCS#8), offering HTTP/2 and HTTP/1.1 by ALPN, and reloaded when the files change.
 *
 * <p>Threading: {@link #current()} is read on event loops when a connection is accepted (a volatile read, no I/O).
 * The files are read only at start-up and on this class's own scheduled thread, which compares their bytes' digest
 * rather than timestamps or watch events, so a cert-manager style swap of a {@code ..data} symlink is seen too. A
 * new pair that does not load is logged and the old one kept. Connections keep the context they were accepted
 * with, so a reload never disturbs one in flight.
 */
public final class TlsContext implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TlsContext.class);

    private final Path certFile;
    private final Path keyFile;
    private final SslProvider provider;
    private volatile SslContext current;
    private volatile X509Certificate leaf;
    /** The leaf served before the last reload, or null; for {@link #loopbackClientContext()}. */
    private volatile X509Certificate previousLeaf;
    private byte[] digest;
    private ScheduledExecutorService watcher;

    private TlsContext(Path certFile, Path keyFile, SslProvider provider) {
        this.certFile = certFile;
        this.keyFile = keyFile;
        this.provider = provider;
    }

    /**
     * Loads {@code certFile} and {@code keyFile} with {@code provider}.
     *
     * @throws IllegalArgumentException naming the file at fault: unreadable, not PEM, no certificate or key in it,
     *                                  or a key that does not belong to the certificate
     */
    public static TlsContext load(Path certFile, Path keyFile, SslProvider provider) {
        TlsContext tls = new TlsContext(certFile, keyFile, provider);
        Loaded loaded = tls.read();
        tls.install(loaded);
        return tls;
    }

    /** Whether Netty's BoringSSL provider can be used here (its native library loads on this machine). */
    public static boolean openSslAvailable() {
        return SslProvider.isAlpnSupported(SslProvider.OPENSSL);
    }

    /** The context for a connection accepted now. */
    public SslContext current() {
        return current;
    }

    /** The certificate served to connections accepted now. */
    public X509Certificate certificate() {
        return leaf;
    }

    public SslProvider provider() {
        return provider;
    }

    /** Starts checking the files every {@code period}; a changed, loadable pair replaces the current one. */
    public synchronized TlsContext watch(Duration period) {
        if (watcher == null) {
            watcher = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("wharf-tls-reload", true));
            watcher.scheduleWithFixedDelay(this::reloadIfChanged, period.toMillis(), period.toMillis(),
                    TimeUnit.MILLISECONDS);
        }
        return this;
    }

    /** Reads the files and installs them if their bytes changed and they load; on the watcher's thread. */
    void reloadIfChanged() {
        byte[] now;
        try {
            now = digestOf(Files.readAllBytes(certFile), Files.readAllBytes(keyFile));
        } catch (IOException e) {
            LOG.warn("cannot read TLS files {} and {} (keeping the certificate in use): {}", certFile, keyFile,
                    e.toString());
            return;
        }
        if (Arrays.equals(now, digest)) {
            return;
        }
        try {
            Loaded loaded = read();
            install(loaded);
            LOG.info("TLS certificate reloaded from {}: {} (serial {}, valid until {}); new connections use it",
                    certFile, loaded.chain.get(0).getSubjectX500Principal(), loaded.chain.get(0).getSerialNumber(),
                    loaded.chain.get(0).getNotAfter().toInstant());
        } catch (IllegalArgumentException e) {
            // Remember the bad bytes, so the same bad pair is reported once rather than every period.
            digest = now;
            LOG.error("the changed TLS files do not load; keeping the certificate in use: {}", e.getMessage());
        }
    }

    private void install(Loaded loaded) {
        this.current = loaded.context;
        this.previousLeaf = this.leaf;
        this.leaf = loaded.chain.get(0);
        this.digest = loaded.digest;
    }

    /**
     * A client context for wharf's calls to its own listener (the webhook's checks, prefetch jobs): it trusts exactly
     * the certificate served now, or the one before it (a handshake that began just before a reload). A pin, not a
     * CA check, so it holds whatever names the certificate carries: the caller dials the loopback address.
     */
    public SSLContext loopbackClientContext() {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {new PinnedTrust()}, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Trusts a chain whose leaf is the certificate this context serves (or served until the last reload). */
    private final class PinnedTrust extends X509ExtendedTrustManager {
        private void check(X509Certificate[] chain) throws CertificateException {
            if (chain == null || chain.length == 0
                    || !(chain[0].equals(leaf) || chain[0].equals(previousLeaf))) {
                throw new CertificateException("not the certificate this wharf serves");
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            check(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("a client-side trust manager only");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("a client-side trust manager only");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a client-side trust manager only");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    private record Loaded(SslContext context, List<X509Certificate> chain, byte[] digest) {
    }

    private Loaded read() {
        byte[] certBytes = readFile(certFile, "tls.cert");
        byte[] keyBytes = readFile(keyFile, "tls.key");
        List<X509Certificate> chain = certificates(certBytes);
        PrivateKey key = privateKey(keyBytes);
        checkPair(chain.get(0), key);
        try {
            SslContext context = SslContextBuilder.forServer(key, chain)
                    .sslProvider(provider)
                    .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                    .applicationProtocolConfig(new ApplicationProtocolConfig(
                            ApplicationProtocolConfig.Protocol.ALPN,
                            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                            ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1))
                    .build();
            return new Loaded(context, chain, digestOf(certBytes, keyBytes));
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot use the certificate " + certFile + " with the key " + keyFile
                    + ": " + e.getMessage(), e);
        }
    }

    private static byte[] readFile(Path file, String key) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + key + " file " + file + ": " + e, e);
        }
    }

    private List<X509Certificate> certificates(byte[] pem) {
        List<X509Certificate> chain = new ArrayList<>();
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        try (PEMParser parser = new PEMParser(reader(pem))) {
            Object o;
            while ((o = parser.readObject()) != null) {
                if (o instanceof X509CertificateHolder holder) {
                    chain.add(converter.getCertificate(holder));
                }
            }
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            throw new IllegalArgumentException("tls.cert file " + certFile + " is not a PEM certificate: " + e, e);
        }
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("tls.cert file " + certFile + " holds no PEM certificate");
        }
        return chain;
    }

    /** The first private key in the file: PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC1 ("EC ..."). */
    private PrivateKey privateKey(byte[] pem) {
        JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
        try (PEMParser parser = new PEMParser(reader(pem))) {
            Object o;
            while ((o = parser.readObject()) != null) {
                if (o instanceof PEMKeyPair pair) {
                    return converter.getPrivateKey(pair.getPrivateKeyInfo());
                }
                if (o instanceof PrivateKeyInfo info) {
                    return converter.getPrivateKey(info);
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("tls.key file " + keyFile + " is not a PEM private key: " + e, e);
        }
        throw new IllegalArgumentException("tls.key file " + keyFile + " holds no unencrypted PEM private key "
                + "(PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)");
    }

    /** Signs with the key and verifies with the certificate: the one check that works alike for RSA and EC. */
    private void checkPair(X509Certificate cert, PrivateKey key) {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC", "ECDSA" -> "SHA256withECDSA";
            default -> throw new IllegalArgumentException("tls.key file " + keyFile + " holds a "
                    + key.getAlgorithm() + " key; wharf serves RSA or EC keys");
        };
        boolean matches;
        try {
            byte[] probe = "wharf tls key check".getBytes(StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(cert.getPublicKey());
            verifier.update(probe);
            matches = verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            matches = false;
        }
        if (!matches) {
            throw new IllegalArgumentException("the key in tls.key file " + keyFile + " does not belong to the "
                    + "certificate in tls.cert file " + certFile + " (" + cert.getSubjectX500Principal() + ")");
        }
    }

    private static Reader reader(byte[] pem) {
        return new StringReader(new String(pem, StandardCharsets.US_ASCII));
    }

    private static byte[] digestOf(byte[] cert, byte[] key) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(cert);
            sha.update((byte) 0);
            sha.update(key);
            return sha.digest();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void close() {
        if (watcher != null) {
            watcher.shutdownNow();
        }
    }
}
