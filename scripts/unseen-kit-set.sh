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
exec bash "$(dirname "$0")/groove-set.sh" "$out" "$bin" "csound=sf2:$sf2=700" "freepats=pat:$pats=710"
