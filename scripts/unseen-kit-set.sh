#!/usr/bin/env bash
# The unseen-kit validation set (issue 18): 20 grooves of 30 s rendered by drummernet's own
# `groove` through drum kits the bundled model never trained on and never will: the drum
# presets of Debian's csound-soundfont (a General MIDI SF2) and the freepats GUS drum patches.
# Half the clips of each source have toms, ride and crashes (subset dtp), half kick, snare and
# hi-hat only (subset dtd), as in ../shared/eval-dev. The same command gives byte-identical
# files; nothing is committed. Usage:
#   bash scripts/unseen-kit-set.sh OUT_DIR [DRUMMERNET_BINARY]
#   drummernet eval --gt OUT_DIR --audio OUT_DIR [--confusion]
# Needs: apt-get install csound-soundfont freepats (`.ci/setup` installs the first).
set -euo pipefail
out=${1:?usage: unseen-kit-set.sh OUT_DIR [DRUMMERNET_BINARY]}
bin=${2:-drummernet}
sf2=/usr/share/sounds/sf2/sf_GMbank.sf2
pats=/usr/share/midi/freepats/Drum_000
for f in "$sf2" "$pats"; do
  [ -e "$f" ] || { echo "unseen-kit-set.sh: $f missing (apt-get install csound-soundfont freepats)" >&2; exit 1; }
done
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dtd=(--set groove.fill_probability=0 --set groove.ride_probability=0
  --set groove.tambourine_probability=0 --set groove.crashes=false)
# source name, kit spec, seed of its dtp half (dtd half: seed + 1)
render() {
  local name=$1 kits=$2 seed=$3
  "$bin" groove --count 5 --seconds 30 --kits "$kits" --seed "$seed" --out "$tmp/${name}_dtp" --force >/dev/null
  "$bin" groove --count 5 --seconds 30 --kits "$kits" --seed $((seed + 1)) --out "$tmp/${name}_dtd" \
    --force "${dtd[@]}" >/dev/null
}
render csound "sf2:$sf2" 700
render freepats "pat:$pats" 710
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
