package dev.wharf.auth.access;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.util.Set;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The P-256 key wharf signs its tokens with (ES256): read from {@code auth.tokenKey} (PEM, PKCS#8 or SEC1
 * {@code EC PRIVATE KEY}), or generated once into a file only its owner may read (mode 0600) and read from there on
 * every later start, so tokens outlive a restart.
 */
public record TokenKey(ECPrivateKey privateKey, ECPublicKey publicKey) {
    private static final Logger LOG = LoggerFactory.getLogger(TokenKey.class);

    /** Reads an EC P-256 private key in PEM; the message of a failure names the file, never its content. */
    public static TokenKey read(Path file) throws IOException {
        Object parsed;
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r)) {
            parsed = p.readObject();
        } catch (RuntimeException e) {
            throw new IOException("token key " + file + " is not PEM");
        }
        JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
        java.security.PrivateKey key;
        if (parsed instanceof PEMKeyPair pair) {
            key = conv.getPrivateKey(pair.getPrivateKeyInfo());
        } else if (parsed instanceof PrivateKeyInfo info) {
            key = conv.getPrivateKey(info);
        } else {
            throw new IOException("token key " + file + " holds no unencrypted private key (PKCS#8 or EC PRIVATE KEY)");
        }
        if (!(key instanceof ECPrivateKey ec) || ec.getParams().getCurve().getField().getFieldSize() != 256) {
            throw new IOException("token key " + file + " is not an EC P-256 key (openssl ecparam -name prime256v1 "
                    + "-genkey -noout)");
        }
        return new TokenKey(ec, publicOf(ec));
    }

    /**
     * The key in {@code file}, generated there first if the file does not exist: written to a temp file created
     * with mode 0600, then moved into place (so no reader sees half a key, and no other user can ever read it).
     */
    public static TokenKey readOrGenerate(Path file) throws IOException {
        if (Files.exists(file)) {
            return read(file);
        }
        Files.createDirectories(file.getParent());
        KeyPair pair;
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            pair = g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no EC P-256", e);
        }
        StringWriter pem = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(pem)) {
            w.writeObject(new JcaPKCS8Generator(pair.getPrivate(), null));
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(Set.of(
                java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                java.nio.file.attribute.PosixFilePermission.OWNER_WRITE)));
        Files.writeString(tmp, pem.toString(), StandardCharsets.US_ASCII, StandardOpenOption.TRUNCATE_EXISTING);
        try {
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException e) {
            Files.deleteIfExists(tmp);
        }
        LOG.info("generated the token signing key {} (mode 0600)", file);
        return read(file);
    }

    private static ECPublicKey publicOf(ECPrivateKey key) throws IOException {
        try {
            org.bouncycastle.jce.spec.ECParameterSpec bc =
                    org.bouncycastle.jcajce.provider.asymmetric.util.EC5Util.convertSpec(key.getParams());
            org.bouncycastle.math.ec.ECPoint q = bc.getG().multiply(key.getS()).normalize();
            ECPoint w = new ECPoint(q.getAffineXCoord().toBigInteger(), q.getAffineYCoord().toBigInteger());
            return (ECPublicKey) KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(w, key.getParams()));
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot derive the public key: " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "TokenKey[EC P-256]";
    }
}
