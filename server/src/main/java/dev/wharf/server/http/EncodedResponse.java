package dev.wharf.server.http;

import io.netty.buffer.ByteBuf;

/**
 * A whole HTTP/1.1 response already in bytes (a {@link PreparedHead}, and a body if any). {@link RequestCodec}'s
 * encoder passes its bytes on as they are, keeping its count of answered requests, and
 * {@link ClientLimits}'s watch counts it as a response's end.
 */
record EncodedResponse(ByteBuf bytes) {
}
