# Sourced by the bin/ scripts: chooses the interpreter and puts this checkout first on PYTHONPATH.
# The interpreter is $KRAFT_PYTHON if set, else the checkout's virtual environment (.venv, made as the
# README says), else python3.  Sets base_dir and python.
base_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${KRAFT_PYTHON:-}" ]; then
  python="${KRAFT_PYTHON}"
elif [ -x "${base_dir}/.venv/bin/python" ]; then
  python="${base_dir}/.venv/bin/python"
else
  python="python3"
fi
export PYTHONPATH="${base_dir}${PYTHONPATH:+:${PYTHONPATH}}"
