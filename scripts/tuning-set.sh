#!/usr/bin/env bash
# The tuning set for the transcription passes' settings: 40 grooves of 30 s through kits the
# training may use (sampled kits 1-11, procedural seeds 1000-1011), half with toms, ride and
# crashes (dtp), half without (dtd). Settings are chosen here, never on ../shared/eval-dev or
# the unseen-kit set, which only report. Usage:
#   bash scripts/tuning-set.sh OUT_DIR [DRUMMERNET_BINARY] [KITS_DIR]
#   drummernet eval --gt OUT_DIR --audio OUT_DIR [--confusion]
set -euo pipefail
out=${1:?usage: tuning-set.sh OUT_DIR [DRUMMERNET_BINARY] [KITS_DIR]}
bin=${2:-drummernet}
kits=${3:-../shared/data/drum_sources}
[ -d "$kits" ] || { echo "tuning-set.sh: $kits missing (the shared sampled kits)" >&2; exit 1; }
exec bash "$(dirname "$0")/groove-set.sh" "$out" "$bin" \
  "kitsA=$kits#1-6=900" "kitsB=$kits#7-11=910" \
  "procA=procedural:1000-1005=920" "procB=procedural:1006-1011=930"
