#!/bin/bash
# Container HEALTHCHECK: GET /healthz on 127.0.0.1:${WHARF_HEALTH_PORT:-5000} must answer 200. Plain HTTP only
# (with tls: set in the config, use the orchestrator's own probes instead, or an admin.listen port).
set -u
port="${WHARF_HEALTH_PORT:-5000}"
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
IFS= read -r -t 4 status <&3 || exit 1
case "$status" in
  "HTTP/1."?" 200"*) exit 0 ;;
  *) exit 1 ;;
esac
