#!/usr/bin/env bash
# Trove benchmarks: builds a release binary, generates deterministic datasets, runs each case
# several times after a warm-up against reference tools in the same run, and writes
# Benchmarks/RESULTS.md. Installs nothing: missing references are reported as skipped.
#   Benchmarks/run.sh [--quick] [--data DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
swift build -c release --product trove >&2
swift build -c release --product peer-load >&2
exec python3 "$here/bench.py" --trove "$PWD/.build/release/trove" "$@"
