#!/usr/bin/env bash
# Alternate a benchmark between another commit and this checkout, on the same machine:
#   bench/alternate.sh BASE_COMMIT [ROUNDS] -- COMMAND...
# e.g. bench/alternate.sh c21cb30 6 -- .venv/bin/python bench/engine.py
# The other commit is checked out in a git worktree beside this one (sharing this .venv); each round
# runs COMMAND there, then here, and prints both outputs, labelled.
set -euo pipefail
base=$1; rounds=${2:-5}; shift 2; [ "${1:-}" = "--" ] && shift
here=$(cd "$(dirname "$0")/.." && pwd)
tree=$(mktemp -d)/base
git -C "$here" worktree add -q --detach "$tree" "$base"
ln -s "$here/.venv" "$tree/.venv"
trap 'git -C "$here" worktree remove --force "$tree"' EXIT
for round in $(seq "$rounds"); do
  for side in base here; do
    dir=$here; [ "$side" = base ] && dir=$tree
    echo "== round $round: $side ($(git -C "$dir" rev-parse --short HEAD))"
    (cd "$dir" && "$@")
  done
done
