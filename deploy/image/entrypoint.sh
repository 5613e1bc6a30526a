#!/bin/sh
# The image's entrypoint: its arguments are wharf's (serve --config /etc/wharf/wharf.yaml, --version, ...).
# exec, so wharf is PID 1's program and receives SIGTERM directly (it drains in-flight responses, then exits 0).
# The class-data-sharing archive made at build time is mapped when it is there and matches the jar (the JVM ignores
# it otherwise); it comes before JAVA_OPTS so a replaced JAVA_OPTS keeps it.
cds=""
[ -f /opt/wharf/wharf.jsa ] && cds="-XX:SharedArchiveFile=/opt/wharf/wharf.jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
# shellcheck disable=SC2086
exec java $cds ${JAVA_OPTS:-} -jar /opt/wharf/wharf.jar "$@"
