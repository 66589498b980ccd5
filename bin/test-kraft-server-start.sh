#!/usr/bin/env bash
# Start a standalone KRaft node, as Kafka's raft/bin/test-kraft-server-start.sh does.
#
#   bin/test-kraft-server-start.sh [-daemon] --config FILE [--throughput N] [--record-size N]
#                                  [--replica-directory-id ID]
#
# Runs with $KRAFT_PYTHON (default: python3) and this checkout on PYTHONPATH.
# With -daemon the node runs in the background; its output goes to
# $LOG_DIR/kraft-server.out (LOG_DIR defaults to logs/ beside bin/).
set -euo pipefail

base_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${KRAFT_PYTHON:-python3}"
export PYTHONPATH="${base_dir}${PYTHONPATH:+:${PYTHONPATH}}"

if [ "${1:-}" = "-daemon" ]; then
  shift
  log_dir="${LOG_DIR:-${base_dir}/logs}"
  mkdir -p "${log_dir}"
  nohup "${python}" -m kraft.tools.test_server "$@" > "${log_dir}/kraft-server.out" 2>&1 < /dev/null &
  echo "kraft node started in the background (pid $!); output in ${log_dir}/kraft-server.out"
  exit 0
fi

exec "${python}" -m kraft.tools.test_server "$@"
