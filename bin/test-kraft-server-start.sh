#!/usr/bin/env bash
# Start a standalone KRaft node, as Kafka's raft/bin/test-kraft-server-start.sh does.
#
#   bin/test-kraft-server-start.sh [-daemon] --config FILE [--throughput N] [--record-size N]
#                                  [--replica-directory-id ID]
#
# The interpreter is $KRAFT_PYTHON if set, else the checkout's virtual environment (.venv, made as the
# README says), else python3; this checkout is put first on PYTHONPATH.  When that interpreter cannot
# import kraft with its built extension, one line says how to build it.
#
# With -daemon the node runs in the background, as Kafka's kafka-server-start.sh -daemon: its output
# goes to $KRAFT_LOG_DIR/kraft-server.out and its pid to $KRAFT_PID_DIR/kraft-server-<node.id>.pid.
# KRAFT_LOG_DIR defaults to the parent of the node's log directory (log.dirs: /tmp/kraft-logs ->
# /tmp), KRAFT_PID_DIR to KRAFT_LOG_DIR.  bin/test-kraft-server-stop.sh stops it.
set -euo pipefail

# shellcheck source=bin/kraft-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/kraft-env.sh"

if ! "${python}" -c 'import kraft.tools.test_server' 2>/dev/null; then
  echo "test-kraft-server-start: error: kraft is not installed and built for ${python}; build it with: cd ${base_dir} && python3 -m venv .venv && .venv/bin/pip install -e '.[uvloop]' (needs a C compiler, the Python headers and, on Debian, python3-venv)" >&2
  exit 1
fi

if [ "${1:-}" = "-daemon" ]; then
  shift
  # Where the output and pid file go: decided by the program from the node's configuration.
  if ! paths="$("${python}" -m kraft.tools.daemon paths "$@")"; then
    exit 1
  fi
  out_file="$(printf '%s\n' "${paths}" | sed -n 1p)"
  pid_file="$(printf '%s\n' "${paths}" | sed -n 2p)"
  mkdir -p "$(dirname "${out_file}")" "$(dirname "${pid_file}")"
  if [ -f "${pid_file}" ] && kill -0 "$(cat "${pid_file}")" 2>/dev/null; then
    echo "test-kraft-server-start: error: a node already runs with pid $(cat "${pid_file}") (${pid_file})" >&2
    exit 1
  fi
  nohup "${python}" -m kraft.tools.test_server "$@" > "${out_file}" 2>&1 < /dev/null &
  echo $! > "${pid_file}"
  echo "kraft node started in the background (pid $!, in ${pid_file}); output in ${out_file}"
  exit 0
fi

exec "${python}" -m kraft.tools.test_server "$@"
