#!/usr/bin/env bash
# The long kill -9 drill: kills `add`, `heal`, `snapshot`, `restore` and `gc` at random (seeded)
# moments, ROUNDS times each (default 50: 250 kills), then checks the library is consistent and
# every file restores byte for byte. The test suite runs the same drill with 20 rounds.
#   Benchmarks/kill-drill.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
TROVE_KILL_ROUNDS="${1:-50}" swift test --filter KillDrillScenarioTests 2>&1 | grep -E "kill drill|passed|failed|error|Expectation"
