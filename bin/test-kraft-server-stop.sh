#!/usr/bin/env bash
# Stop a node started with bin/test-kraft-server-start.sh -daemon, as Kafka's kafka-server-stop.sh:
#
#   bin/test-kraft-server-stop.sh --config FILE [--timeout SECONDS]
#
# SIGTERM to the pid in $KRAFT_PID_DIR/kraft-server-<node.id>.pid (a leader resigns, the log is flushed),
# then waits for the node to exit and removes the pid file (see kraft/tools/daemon.py).
set -euo pipefail

# shellcheck source=bin/kraft-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/kraft-env.sh"
exec "${python}" -m kraft.tools.daemon "$@"
