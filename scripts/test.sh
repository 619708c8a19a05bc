#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting and lints first (they fail in seconds), then the
# tests. Installs missing test dependencies first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
