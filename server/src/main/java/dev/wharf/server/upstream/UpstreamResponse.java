package dev.wharf.server.upstream;

import io.netty.handler.codec.http.HttpHeaders;

/** A fully read upstream response (manifests, tag lists, HEADs): small bodies only. */
public record UpstreamResponse(int status, HttpHeaders headers, byte[] body) {
    /** One header's value, or null: for callers that keep clear of Netty's HTTP types (the pull-through layer). */
    public String header(String name) {
        return headers.get(name);
    }
}
