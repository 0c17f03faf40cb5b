#!/usr/bin/env bash
# A scored set of grooves in the development set's layout: for each source, 5 grooves of 30 s
# with toms, ride and crashes (subset dtp) and 5 with kick, snare and hi-hat only (subset dtd),
# rendered by drummernet's own `groove`, and a manifest.json that `drummernet eval` reads. The
# same command gives byte-identical files. Used by unseen-kit-set.sh and tuning-set.sh.
#   bash scripts/groove-set.sh OUT_DIR DRUMMERNET_BINARY NAME=KIT_SPEC=SEED...
# (the dtd half of a source uses SEED + 1).
set -euo pipefail
out=${1:?usage: groove-set.sh OUT_DIR DRUMMERNET_BINARY NAME=KIT_SPEC=SEED...}
bin=${2:?usage: groove-set.sh OUT_DIR DRUMMERNET_BINARY NAME=KIT_SPEC=SEED...}
shift 2
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dtd=(--set groove.fill_probability=0 --set groove.ride_probability=0
  --set groove.tambourine_probability=0 --set groove.crashes=false)
for source in "$@"; do
  name=${source%%=*}
  rest=${source#*=}
  kits=${rest%=*}
  seed=${rest##*=}
  "$bin" groove --count 5 --seconds 30 --kits "$kits" --seed "$seed" --out "$tmp/${name}_dtp" --force >/dev/null
  "$bin" groove --count 5 --seconds 30 --kits "$kits" --seed $((seed + 1)) --out "$tmp/${name}_dtd" \
    --force "${dtd[@]}" >/dev/null
done
{
  echo '{"clips": ['
  sep=""
  for dir in "$tmp"/*_dtp "$tmp"/*_dtd; do
    part=$(basename "$dir")
    subset=${part##*_}
    for wav in "$dir"/groove_*.wav; do
      id="${subset}_${part%_*}_$(basename "$wav" .wav | sed 's/groove_//')"
      for ext in wav mid txt; do mv "${wav%.wav}.$ext" "$out/$id.$ext"; done
      printf '%s{"id": "%s", "subset": "%s", "ann": "%s.txt"}\n' "$sep" "$id" "$subset" "$id"
      sep=","
    done
  done
  echo ']}'
} > "$out/manifest.json"
echo "$out: $(ls "$out"/*.wav | wc -l) clips (manifest.json: dtp with toms and cymbals, dtd without)"
