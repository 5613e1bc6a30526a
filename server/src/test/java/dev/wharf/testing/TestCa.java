package dev.wharf.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A private certificate authority generated with BouncyCastle for one test: it issues server certificates (TLS
 * for registries, token servers, nginx) and signing certificates (for the JWTs a {@link TokenServer} mints), and
 * writes them as PEM files, or as a PKCS#12 trust store for a child JVM's {@code javax.net.ssl.trustStore}.
 * Nothing here is trusted by anything until a test says so.
 */
public final class TestCa {
    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());
    public static final String TRUST_STORE_PASSWORD = "wharf-test";

    private final String name;
    private final KeyPair keys;
    private final X509Certificate certificate;
    private final Path dir;

    /** A certificate with its private key, and where both were written as PEM. */
    public record Issued(X509Certificate certificate, PrivateKey key, Path certificatePem, Path keyPem) {
        /** A server-side SSLContext presenting this certificate (for JDK HttpsServer). */
        public SSLContext serverContext() {
            try {
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                ks.setKeyEntry("server", key, new char[0], new java.security.cert.Certificate[] {certificate});
                KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(ks, new char[0]);
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(kmf.getKeyManagers(), null, null);
                return ctx;
            } catch (GeneralSecurityException | IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private TestCa(String name, Path dir) {
        this.name = name;
        this.dir = dir;
        try {
            this.keys = rsa();
            X500Name subject = new X500Name("CN=" + name);
            Instant now = Instant.now();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(2))), subject,
                    keys.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign
                    | KeyUsage.digitalSignature));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            this.certificate = sign(b, keys.getPrivate());
            write(dir.resolve("ca.pem"), certificate);
        } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
            throw new IllegalStateException("cannot create test CA " + name, e);
        }
    }

    /** A new CA named {@code name} (its CN), writing its files under {@code dir}. */
    public static TestCa create(String name, Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new TestCa(name, dir);
    }

    /** The CA certificate. */
    public X509Certificate certificate() {
        return certificate;
    }

    /** The CA certificate as a PEM file (a {@code caFile} or a registry's {@code rootcertbundle}). */
    public Path certificatePem() {
        return dir.resolve("ca.pem");
    }

    /**
     * A TLS server certificate for {@code names}: DNS names, and IP literals (which become IP SANs). Written as
     * {@code <first name>.pem} and {@code <first name>.key} (PKCS#8).
     */
    public Issued server(String... names) {
        return issue(names[0], names, true);
    }

    /**
     * A TLS server certificate for {@code names} with the given key pair (an EC pair, say), its subject CN
     * {@code commonName}; written as {@code <commonName>.pem} and {@code .key} (PKCS#8).
     */
    public Issued server(KeyPair leaf, String commonName, String... names) {
        return issue(leaf, commonName, names, true);
    }

    /** A new EC key pair on P-256. */
    public static KeyPair ecKeys() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(256);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Writes {@code key} in the traditional OpenSSL form: PKCS#1 ({@code RSA PRIVATE KEY}) for RSA, SEC1
     * ({@code EC PRIVATE KEY}) for EC.
     */
    public static Path writeTraditional(Path file, PrivateKey key) {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter pem = new JcaPEMWriter(w)) {
            if (key instanceof java.security.interfaces.ECPrivateKey ec) {
                // BouncyCastle would drop the curve from a JDK key's SEC1 form; OpenSSL writes it, and so do we.
                org.bouncycastle.asn1.pkcs.PrivateKeyInfo info =
                        org.bouncycastle.asn1.pkcs.PrivateKeyInfo.getInstance(key.getEncoded());
                byte[] sec1 = new org.bouncycastle.asn1.sec.ECPrivateKey(ec.getParams().getOrder().bitLength(),
                        ec.getS(), info.getPrivateKeyAlgorithm().getParameters()).getEncoded();
                pem.writeObject(new org.bouncycastle.util.io.pem.PemObject("EC PRIVATE KEY", sec1));
            } else {
                pem.writeObject(key);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            Files.writeString(file, w.toString(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** A certificate for signing (JWTs): no SANs, digitalSignature only. */
    public Issued signer(String commonName) {
        return issue(commonName, new String[0], false);
    }

    /** A client SSLContext trusting only this CA (for test clients: seeders, HTTP checks). */
    public SSLContext clientContext() {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry(name, certificate);
            javax.net.ssl.TrustManagerFactory tmf =
                    javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A PKCS#12 trust store holding only this CA (password {@link #TRUST_STORE_PASSWORD}), for a child JVM. */
    public Path trustStore() {
        Path file = dir.resolve("truststore.p12");
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry(name, certificate);
            try (OutputStream out = Files.newOutputStream(file)) {
                ks.store(out, TRUST_STORE_PASSWORD.toCharArray());
            }
            return file;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The JVM options that make a child JVM trust only this CA (instead of the JDK's public CAs). */
    public List<String> trustStoreJvmArgs() {
        return List.of("-Djavax.net.ssl.trustStore=" + trustStore(), "-Djavax.net.ssl.trustStoreType=PKCS12",
                "-Djavax.net.ssl.trustStorePassword=" + TRUST_STORE_PASSWORD);
    }

    private Issued issue(String commonName, String[] names, boolean tlsServer) {
        try {
            return issue(rsa(), commonName, names, tlsServer);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot issue a certificate for " + commonName, e);
        }
    }

    private Issued issue(KeyPair leaf, String commonName, String[] names, boolean tlsServer) {
        try {
            Instant now = Instant.now();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(certificate, serial(),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(1))),
                    new X500Name("CN=" + commonName), leaf.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(leaf.getPublic()));
            if (tlsServer) {
                b.addExtension(Extension.keyUsage, true,
                        new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
                b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
                List<GeneralName> sans = new ArrayList<>();
                for (String n : names) {
                    boolean ip = n.chars().allMatch(c -> c == '.' || c >= '0' && c <= '9') || n.contains(":");
                    sans.add(ip ? new GeneralName(GeneralName.iPAddress, InetAddress.getByName(n).getHostAddress())
                            : new GeneralName(GeneralName.dNSName, n));
                }
                b.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(sans.toArray(new GeneralName[0])));
            } else {
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            }
            X509Certificate cert = sign(b, keys.getPrivate());
            String file = commonName.replaceAll("[^A-Za-z0-9.-]", "_");
            Path certPem = write(dir.resolve(file + ".pem"), cert);
            Path keyPem = write(dir.resolve(file + ".key"), leaf.getPrivate());
            return new Issued(cert, leaf.getPrivate(), certPem, keyPem);
        } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
            throw new IllegalStateException("cannot issue a certificate for " + commonName, e);
        }
    }

    private static KeyPair rsa() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        return g.generateKeyPair();
    }

    private static BigInteger serial() {
        return BigInteger.valueOf(SERIAL.incrementAndGet());
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer)
            throws OperatorCreationException, GeneralSecurityException {
        ContentSigner s = new JcaContentSignerBuilder("SHA256withRSA").build(signer);
        return new JcaX509CertificateConverter().getCertificate(b.build(s));
    }

    private static Path write(Path file, Object pemObject) throws IOException {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter pem = new JcaPEMWriter(w)) {
            // A private key is written as PKCS#8 ("BEGIN PRIVATE KEY"), which Go, nginx and Netty all read.
            pem.writeObject(pemObject instanceof PrivateKey k
                    ? new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(k, null) : pemObject);
        }
        Files.writeString(file, w.toString(), StandardCharsets.US_ASCII);
        return file;
    }
}
