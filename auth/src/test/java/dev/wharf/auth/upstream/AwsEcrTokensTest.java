package dev.wharf.auth.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * GetAuthorizationToken through the real AWS SDK, its endpoint overridden to {@link FakeEcrApi} on 127.0.0.1 (a fake:
 * no AWS endpoint is reachable from the tests). Checks what the SDK sends and that the token is decoded.
 */
class AwsEcrTokensTest {
    private static final String KEY = "AKIDWHARFTEST0000001";
    private static final String SECRET = "wharf/test/secret/key/0123456789abcdefghij";

    @Test
    void privateEcrWithStaticKeys() throws Exception {
        try (FakeEcrApi api = new FakeEcrApi(false, KEY, "eu-west-1", "pw")) {
            Instant expires = Instant.now().plus(12, ChronoUnit.HOURS).truncatedTo(ChronoUnit.MILLIS);
            api.expiresAt(n -> expires);
            try (AwsEcrTokens tokens = new AwsEcrTokens(
                    new EcrAccess(false, "eu-west-1", api.endpoint(), KEY, SECRET, null))) {
                EcrCredentials.Token t = tokens.fetch();
                assertEquals("AWS", t.credentials().username());
                assertEquals("pw-1", t.credentials().password());
                assertEquals(expires, t.expiresAt());
                assertFalse(t.toString().contains("pw-1"), "a token's string form must not show the password");
            }
            assertEquals(1, api.count());
            FakeEcrApi.Call call = api.calls.get(0);
            assertEquals("", call.problem(), call.toString());
            assertTrue(call.authorization().startsWith("AWS4-HMAC-SHA256 Credential=" + KEY + "/"), call.authorization());
            assertTrue(call.authorization().contains("/eu-west-1/ecr/aws4_request"), call.authorization());
            assertEquals(FakeEcrApi.ECR_TARGET, call.target());
            assertEquals("application/x-amz-json-1.1", call.contentType());
            assertFalse(call.authorization().contains(SECRET));
        }
    }

    @Test
    void ecrPublicSignsForEcrPublicInUsEast1() throws Exception {
        try (FakeEcrApi api = new FakeEcrApi(true, KEY, "us-east-1", "public");
             AwsEcrTokens tokens = new AwsEcrTokens(new EcrAccess(true, EcrRegistryHost.PUBLIC_API_REGION,
                     api.endpoint(), KEY, SECRET, null))) {
            EcrCredentials.Token t = tokens.fetch();
            assertEquals("public-1", t.credentials().password());
            FakeEcrApi.Call call = api.calls.get(0);
            assertEquals("", call.problem(), call.toString());
            assertTrue(call.authorization().contains("/us-east-1/ecr-public/aws4_request"), call.authorization());
            assertEquals(FakeEcrApi.ECR_PUBLIC_TARGET, call.target());
        }
    }

    @Test
    void defaultCredentialChainIsUsedWithoutStaticKeys() throws Exception {
        // The chain's first link is the aws.accessKeyId / aws.secretAccessKey system properties; the environment,
        // web identity (IRSA), profile, container and IMDS links follow and are the SDK's to test.
        String chainKey = "AKIDFROMDEFAULTCHAIN1";
        System.setProperty("aws.accessKeyId", chainKey);
        System.setProperty("aws.secretAccessKey", SECRET);
        try (FakeEcrApi api = new FakeEcrApi(false, chainKey, "ap-southeast-2", "chain");
             AwsEcrTokens tokens = new AwsEcrTokens(new EcrAccess(false, "ap-southeast-2", api.endpoint(), null,
                     null, null))) {
            assertEquals("chain-1", tokens.fetch().credentials().password());
            assertEquals("", api.calls.get(0).problem(), api.calls.get(0).toString());
        } finally {
            System.clearProperty("aws.accessKeyId");
            System.clearProperty("aws.secretAccessKey");
        }
    }

    @Test
    void apiErrorsBecomeIoExceptionsNamingTheApiAndRegion() throws Exception {
        try (FakeEcrApi api = new FakeEcrApi(false, KEY, "eu-west-1", "pw")) {
            api.failWith(n -> 400);
            try (AwsEcrTokens tokens = new AwsEcrTokens(
                    new EcrAccess(false, "eu-west-1", api.endpoint(), KEY, SECRET, null))) {
                IOException e = assertThrows(IOException.class, tokens::fetch);
                assertTrue(e.getMessage().contains("ecr GetAuthorizationToken in eu-west-1 failed"), e.getMessage());
                assertFalse(e.getMessage().contains(SECRET));
            }
        }
    }

    @Test
    void createdCredentialsRefreshThroughTheSdkBeforeExpiry() throws Exception {
        try (FakeEcrApi api = new FakeEcrApi(false, KEY, "eu-west-1", "pw")) {
            // 3 s tokens: refreshed in the background from 2.4 s on.
            api.expiresAt(n -> Instant.now().plusSeconds(3));
            EcrCredentials ecr = EcrCredentials.create(new EcrAccess(false, "eu-west-1", api.endpoint(), KEY, SECRET,
                    null), "upstream test of project p");
            try {
                assertEquals(0, api.count(), "nothing is fetched before it is needed");
                assertEquals("pw-1", ecr.get().get(30, TimeUnit.SECONDS).password());
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
                while (api.count() < 2 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertEquals(2, api.count(), "refreshed in the background");
                api.calls.forEach(c -> assertEquals("", c.problem(), c.toString()));
            } finally {
                ecr.close();
            }
            api.failWith(n -> 500);
            assertThrows(ExecutionException.class, () -> ecr.get().get(5, TimeUnit.SECONDS), "closed");
        }
    }

    @Test
    void registryHostsNameTheirRegion() {
        assertEquals(Optional.of(new EcrRegistryHost("123456789012", "eu-west-1", false)),
                EcrRegistryHost.parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com"));
        assertEquals("us-gov-west-1",
                EcrRegistryHost.parse("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com").orElseThrow().region());
        assertEquals("cn-north-1",
                EcrRegistryHost.parse("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn").orElseThrow().region());
        assertEquals("eu-central-1",
                EcrRegistryHost.parse("123456789012.dkr-ecr.eu-central-1.on.aws").orElseThrow().region());
        assertEquals("ap-southeast-2",
                EcrRegistryHost.parse("123456789012.DKR.ECR.AP-SOUTHEAST-2.AMAZONAWS.COM.").orElseThrow().region());
        EcrRegistryHost pub = EcrRegistryHost.parse("public.ecr.aws").orElseThrow();
        assertTrue(pub.isPublic());
        assertEquals("us-east-1", pub.region());
        assertTrue(EcrRegistryHost.parse("registry-1.docker.io").isEmpty());
        assertTrue(EcrRegistryHost.parse("12345.dkr.ecr.eu-west-1.amazonaws.com").isEmpty(), "accounts have 12 digits");
        assertTrue(EcrRegistryHost.parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example").isEmpty());
        assertTrue(EcrRegistryHost.parse(null).isEmpty());
    }

    @Test
    void accessNeedsARegionAndBothKeys() {
        assertThrows(IllegalArgumentException.class, () -> new EcrAccess(false, null, null, null, null, null));
        assertThrows(IllegalArgumentException.class, () -> new EcrAccess(false, "eu-west-1", null, KEY, null, null));
        assertFalse(new EcrAccess(false, "eu-west-1", null, KEY, SECRET, null).toString().contains(SECRET));
    }
}
