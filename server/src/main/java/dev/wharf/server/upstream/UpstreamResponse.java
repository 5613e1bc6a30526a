package dev.wharf.server.upstream;

import io.netty.handler.codec.http.HttpHeaders;

/** A fully read upstream response (manifests, tag lists, HEADs): small bodies only. */
public record UpstreamResponse(int status, HttpHeaders headers, byte[] body) {
}
