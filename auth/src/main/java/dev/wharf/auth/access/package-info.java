/**
 * Client auth: who is asking wharf for a pull. {@link dev.wharf.auth.access.OidcIdTokens} verifies an OIDC ID token
 * from the configured issuer (discovery document, JWKS, signature, issuer, audience, times) and says who it names;
 * {@link dev.wharf.auth.access.OidcDeviceFlow} is the OAuth 2.0 device authorization grant (RFC 8628) that
 * {@code wharf login --oidc} runs to get such a token. Every call to the provider is bounded in time and size, and
 * no message, log line or exception of this package ever carries a token.
 */
package dev.wharf.auth.access;
