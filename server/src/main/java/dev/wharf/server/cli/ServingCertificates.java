package dev.wharf.server.cli;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
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
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A private CA and a serving certificate it signs, for {@code wharf tls init}: EC P-256 keys, ECDSA with SHA-256.
 * The CA may sign only end-entity certificates (path length 0); the serving certificate is for TLS servers only
 * (serverAuth) and names each host as a DNS name or an IP address in its subject alternative names, which is all
 * that clients check.
 */
final class ServingCertificates {
    static final Duration CA_VALIDITY = Duration.ofDays(3652);
    static final Duration SERVING_VALIDITY = Duration.ofDays(365);
    /** Clocks of the machines that check the certificates may run a little behind this one. */
    private static final Duration BACKDATE = Duration.ofHours(1);
    private static final Pattern IPV4 = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");
    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    private final SecureRandom random = new SecureRandom();

    /** A certificate and its private key. */
    record Issued(X509Certificate certificate, PrivateKey key) {
    }

    /** A host for a subject alternative name: an IP address (v4 or v6) or a DNS name (a leading {@code *.} too). */
    record Host(String text, boolean ip) {
        GeneralName generalName() {
            return new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, text);
        }
    }

    /**
     * Parses {@code --host} values. An IPv4 literal or anything with a colon (IPv6, brackets allowed) is an IP
     * address, checked as a literal without any name lookup; anything else must be a valid DNS name.
     */
    static Host parseHost(String value) throws UsageError {
        String v = value.strip().toLowerCase(Locale.ROOT);
        if (v.startsWith("[") && v.endsWith("]")) {
            v = v.substring(1, v.length() - 1);
        }
        if (v.indexOf(':') >= 0) {
            if (!v.matches("[0-9a-f:.]+")) {
                throw new UsageError("--host '" + value + "' is neither a DNS name nor an IP address");
            }
            try {
                // A literal with a colon is never looked up: InetAddress parses it or refuses it.
                return new Host(InetAddress.getByName(v).getHostAddress(), true);
            } catch (UnknownHostException e) {
                throw new UsageError("--host '" + value + "' is not a valid IPv6 address");
            }
        }
        var m = IPV4.matcher(v);
        if (m.matches()) {
            for (int i = 1; i <= 4; i++) {
                if (Integer.parseInt(m.group(i)) > 255) {
                    throw new UsageError("--host '" + value + "' is not a valid IPv4 address");
                }
            }
            return new Host(v, true);
        }
        String name = v.endsWith(".") ? v.substring(0, v.length() - 1) : v;
        String[] labels = name.split("\\.", -1);
        boolean ok = !name.isEmpty() && name.length() <= 253;
        for (int i = 0; ok && i < labels.length; i++) {
            ok = (i == 0 && labels[i].equals("*") && labels.length > 2) || DNS_LABEL.matcher(labels[i]).matches();
        }
        if (!ok) {
            throw new UsageError("--host '" + value + "' is neither a DNS name nor an IP address");
        }
        return new Host(name, false);
    }

    /** A new self-signed CA named {@code wharf CA <random>} (the suffix tells apart the CAs of two installs). */
    Issued newCa(Instant now) throws GeneralSecurityException {
        KeyPair pair = newKeyPair();
        byte[] suffix = new byte[4];
        random.nextBytes(suffix);
        X500Name name = new X500Name("CN=wharf CA " + HexFormat.of().formatHex(suffix));
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(), from(now),
                    Date.from(now.plus(CA_VALIDITY)), name, pair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false,
                            ext.createSubjectKeyIdentifier(pair.getPublic()));
            return new Issued(sign(b, pair.getPrivate()), pair.getPrivate());
        } catch (org.bouncycastle.cert.CertIOException e) {
            throw new GeneralSecurityException(e);
        }
    }

    /** A serving certificate for {@code hosts} (the first is also its common name), signed by {@code ca}. */
    Issued newServing(Issued ca, List<Host> hosts, Instant now) throws GeneralSecurityException {
        KeyPair pair = newKeyPair();
        X500Name subject = new X500Name("CN=" + hosts.get(0).text().replaceAll("([,+=\"\\\\<>;#])", "\\\\$1"));
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        GeneralNames sans = new GeneralNames(hosts.stream().map(Host::generalName).toArray(GeneralName[]::new));
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca.certificate(), serial(), from(now),
                    Date.from(now.plus(SERVING_VALIDITY)), subject, pair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                    .addExtension(Extension.subjectAlternativeName, false, sans)
                    .addExtension(Extension.subjectKeyIdentifier, false,
                            ext.createSubjectKeyIdentifier(pair.getPublic()))
                    .addExtension(Extension.authorityKeyIdentifier, false,
                            ext.createAuthorityKeyIdentifier(ca.certificate()));
            return new Issued(sign(b, ca.key()), pair.getPrivate());
        } catch (org.bouncycastle.cert.CertIOException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private KeyPair newKeyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), random);
        return g.generateKeyPair();
    }

    /** A positive 127-bit serial: unpredictable, as the CA/Browser baseline asks, and within 20 octets. */
    private BigInteger serial() {
        return new BigInteger(127, random).setBit(126);
    }

    private static Date from(Instant now) {
        return Date.from(now.minus(BACKDATE));
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
            throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter()
                    .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }
}
