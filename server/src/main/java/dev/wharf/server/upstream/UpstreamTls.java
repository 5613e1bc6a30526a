package dev.wharf.server.upstream;

import dev.wharf.server.config.ConfigException;
import dev.wharf.server.config.ProjectConfig;
import dev.wharf.server.egress.EgressProxy;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS towards upstreams, all in one place: a project's client context (the JDK trust store plus its CA file, or no
 * checks at all with {@code insecureSkipVerify}), the handler each new pooled connection gets (host name checked,
 * SNI always sent), and the same trust handed to the token client, since a token realm usually shares the
 * registry's host and certificate. The contexts use the JDK provider on purpose, even where BoringSSL is on the
 * class path for serving: the token client (the JDK's HttpClient) needs the JDK {@code SSLContext} of the same trust.
 */
public final class UpstreamTls {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamTls.class);

    private UpstreamTls() {
    }

    /**
     * Null when the project needs nothing beyond the JDK trust store, so such projects share one pool. The context
     * also serves the project's token server (see {@link #forTokens}), which usually has the same certificate.
     */
    public static SslContext forProject(ProjectConfig pc) {
        if (pc.insecureSkipVerify()) {
            // Said at start-up, every start, at WARN: this must never go unnoticed in a log review.
            LOG.warn("INSECURE: project {} has insecureSkipVerify: true. wharf does NOT verify the TLS certificate "
                    + "of {} (nor of its token server or redirect targets): anyone on the network path can "
                    + "impersonate it and serve any content under its tags. Use caFile for a private CA instead.",
                    pc.name(), pc.upstreams().size() == 1 ? pc.upstream() : pc.upstreams());
            if (pc.caFile() != null) {
                LOG.warn("project {}: caFile {} is ignored because insecureSkipVerify is true", pc.name(), pc.caFile());
            }
            try {
                return SslContextBuilder.forClient().sslProvider(SslProvider.JDK).trustManager(InsecureTrustManagerFactory.INSTANCE).build();
            } catch (SSLException e) {
                throw new ConfigException("project " + pc.name() + ": cannot set up TLS: " + e.getMessage());
            }
        }
        if (pc.upstreams().stream().noneMatch(u -> "https".equalsIgnoreCase(u.getScheme())) || pc.caFile() == null) {
            return null;
        }
        try {
            return clientSslContext(pc.caFile());
        } catch (IOException e) {
            throw new ConfigException("project " + pc.name() + ": caFile " + pc.caFile() + ": " + e.getMessage());
        }
    }

    /**
     * A client TLS context that trusts the JDK's trust store plus, when {@code caFile} is not null, every
     * certificate in that PEM file (a project's private CA).
     *
     * @throws IOException naming the file when it cannot be read or holds no certificate
     */
    public static SslContext clientSslContext(Path caFile) throws IOException {
        try {
            TrustManagerFactory jdk = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            jdk.init((KeyStore) null);
            if (caFile == null) {
                return SslContextBuilder.forClient().sslProvider(SslProvider.JDK).trustManager(jdk).build();
            }
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int n = 0;
            for (TrustManager tm : jdk.getTrustManagers()) {
                if (tm instanceof X509TrustManager x) {
                    for (X509Certificate c : x.getAcceptedIssuers()) {
                        store.setCertificateEntry("jdk-" + n++, c);
                    }
                }
            }
            Collection<? extends Certificate> extra;
            try (InputStream in = Files.newInputStream(caFile)) {
                extra = CertificateFactory.getInstance("X.509").generateCertificates(in);
            } catch (IOException e) {
                throw new IOException("cannot read CA file " + caFile + ": " + e, e);
            }
            if (extra.isEmpty()) {
                throw new IOException("CA file " + caFile + " holds no certificate");
            }
            for (Certificate c : extra) {
                store.setCertificateEntry("ca-" + n++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            return SslContextBuilder.forClient().sslProvider(SslProvider.JDK).trustManager(tmf).build();
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot build TLS trust" + (caFile == null ? "" : " from CA file " + caFile)
                    + ": " + e.getMessage(), e);
        }
    }

    /** The TLS handler of a new connection to {@code host:port}: the host name is verified and sent as SNI. */
    static SslHandler newHandler(SslContext ssl, ByteBufAllocator alloc, String host, int port) {
        SslHandler tls = ssl.newHandler(alloc, host, port); // SNI
        SSLEngine engine = tls.engine();
        SSLParameters params = engine.getSSLParameters();
        // Netty does not check the certificate's host name unless asked to.
        params.setEndpointIdentificationAlgorithm("HTTPS");
        if (!EgressProxy.isIpLiteral(host)) {
            // The JDK sends SNI only for names with a dot; single-label hosts (cluster services) need it too.
            params.setServerNames(List.of(new SNIHostName(host)));
        }
        engine.setSSLParameters(params);
        return tls;
    }

    /**
     * The project's TLS trust for its token server too (a private CA, or insecureSkipVerify). Null (the JDK trust
     * store) when the project has none of its own.
     */
    static SSLContext forTokens(UpstreamEndpoint endpoint) {
        return endpoint.sslContext() instanceof JdkSslContext jdk ? jdk.context() : null;
    }
}
