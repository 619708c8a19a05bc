#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs missing test dependencies first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo test --locked
