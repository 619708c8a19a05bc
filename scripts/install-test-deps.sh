#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine: headless Chromium (browser layout check)
# Python 3 (the e-mail package checks our MIME) and ftfy (a second opinion on mojibake repair). Idempotent: it installs only what is missing.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# ftfy is a second opinion on mojibake repair in tests/check.rs.
if ! python3 -c "import ftfy" >/dev/null 2>&1; then
  echo "installing: ftfy (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "ftfy==6.3.1"
fi
echo "test dependencies present: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), $(python3 --version), ftfy $(python3 -c 'import ftfy; print(ftfy.__version__)')"
