#!/usr/bin/env bash
# Stop a node started with bin/test-kraft-server-start.sh -daemon, as Kafka's kafka-server-stop.sh:
#
#   bin/test-kraft-server-stop.sh --config FILE [--timeout SECONDS]
#
# SIGTERM to the pid in $KRAFT_PID_DIR/kraft-server-<node.id>.pid (a leader resigns, the log is flushed),
# then waits for the node to exit and removes the pid file (see kraft/tools/daemon.py).
set -euo pipefail

base_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${KRAFT_PYTHON:-}" ]; then
  python="${KRAFT_PYTHON}"
elif [ -x "${base_dir}/.venv/bin/python" ]; then
  python="${base_dir}/.venv/bin/python"
else
  python="python3"
fi
export PYTHONPATH="${base_dir}${PYTHONPATH:+:${PYTHONPATH}}"
exec "${python}" -m kraft.tools.daemon "$@"
