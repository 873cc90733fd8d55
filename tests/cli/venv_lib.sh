# venv_lib.sh — the Python test environment (.venv-test/, ignored by git):
# the official `openai` client and Pillow, the independent readers the
# metadata and OpenAI-endpoint tests check against. Created on first use
# (python3 -m venv + pip from PyPI); scripts/setup.sh creates it too.
#   need_venv   sets $PY to its python, or prints why it cannot and returns 1
need_venv() {
  local root; root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local venv=${I4_TEST_VENV:-$root/.venv-test}
  PY="$venv/bin/python"
  if [ -x "$PY" ] && "$PY" -c 'import openai, PIL' 2>/dev/null; then return 0; fi
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    echo "!! cannot create $venv: python3 -m venv failed (Debian: apt-get install python3-venv)"
    return 1
  fi
  if ! "$venv/bin/pip" install -q --disable-pip-version-check openai pillow >"$venv.pip.log" 2>&1; then
    echo "!! pip could not install openai and pillow into $venv (is PyPI reachable?); see $venv.pip.log:"
    tail -n 5 "$venv.pip.log"
    return 1
  fi
  "$PY" -c 'import openai, PIL' || { echo "!! $venv: openai or PIL does not import"; return 1; }
}
