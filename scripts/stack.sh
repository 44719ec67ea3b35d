#!/usr/bin/env bash
# Which kubetfx stack this host runs, and the Python for it: prints "STACK PYTHON".
#
#   scripts/stack.sh [STACK]
#
# Without STACK, the newest the host can install: TFX 1.21 on Python 3.13, 3.12
# or 3.11 where glibc is 2.39 or newer (TFX 1.17 and later ship manylinux_2_39
# wheels only), else TFX 1.16 on Python 3.10. With STACK (1.16 or 1.21), that
# one, or a one-line reason it cannot run here (exit 1).
#
# A Python is taken from PATH (python3.13, ...) or from pyenv's installed versions.
set -euo pipefail

want=${1:-}
glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')

at_least() { # VERSION MINIMUM
  [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]
}

python_for() { # the first of these minor versions that runs here
  local minor version
  for minor in "$@"; do
    if "python$minor" -c '' 2>/dev/null; then
      command -v "python$minor"
      return
    fi
    if command -v pyenv >/dev/null 2>&1; then
      version=$(pyenv versions --bare 2>/dev/null | grep -E "^${minor//./\\.}\.[0-9]+$" | sort -V | tail -n 1 || true)
      if [ -n "$version" ]; then
        echo "$(pyenv prefix "$version")/bin/python$minor"
        return
      fi
    fi
  done
  return 1
}

stack_1_21() {
  if ! at_least "$glibc" 2.39; then
    echo "stack: TFX 1.21 needs glibc 2.39 or newer (Debian 13, Ubuntu 24.04) and this host has $glibc: use STACK=1.16, or run the 1.21 suite in its container (make test-container)" >&2
    return 1
  fi
  local python
  python=$(python_for 3.13 3.12 3.11) || {
    echo "stack: TFX 1.21 needs Python 3.11, 3.12 or 3.13; install one (pyenv install 3.13)" >&2
    return 1
  }
  echo "1.21 $python"
}

stack_1_16() {
  local python
  python=$(python_for 3.10) || {
    echo "stack: TFX 1.16 needs Python 3.10; install it (pyenv install 3.10.13)" >&2
    return 1
  }
  echo "1.16 $python"
}

case "$want" in
  "") stack_1_21 2>/dev/null || stack_1_16 ;;
  1.21) stack_1_21 ;;
  1.16) stack_1_16 ;;
  *)
    echo "stack: STACK is 1.16 or 1.21, got $want" >&2
    exit 1
    ;;
esac
