#!/bin/sh
# The image's entrypoint: its arguments are wharf's (serve --config /etc/wharf/wharf.yaml, --version, ...).
# exec, so wharf is PID 1's program and receives SIGTERM directly (it drains in-flight responses, then exits 0).
# shellcheck disable=SC2086
exec java ${JAVA_OPTS:-} -jar /opt/wharf/wharf.jar "$@"
