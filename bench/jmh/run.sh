#!/usr/bin/env bash
# Runs wharf's JMH micro-benchmarks (see bench/README.md, "Micro-benchmarks"). Arguments go to JMH:
#
#   bash bench/jmh/run.sh                                   # everything, JMH defaults of each class (~4 min)
#   bash bench/jmh/run.sh FillAppend -p mib=64 -wi 1 -i 3   # one benchmark, few iterations
#   bash bench/jmh/run.sh -l                                # list them
#
# Builds the module (offline when the dependencies are already resolved), then runs org.openjdk.jmh.Main with the
# module's classes and the class path Maven wrote to target/classpath.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MVN_OFFLINE="${MVN_OFFLINE:--o}"
(cd "$ROOT" && mvn -B -q $MVN_OFFLINE -pl bench/jmh -am -DskipTests package) >&2
CP="$ROOT/bench/jmh/target/classes:$(cat "$ROOT/bench/jmh/target/classpath.txt")"
exec java -cp "$CP" org.openjdk.jmh.Main "$@"
