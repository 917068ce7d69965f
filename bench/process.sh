#!/usr/bin/env bash
# Whole-process speed: `bouncedoc parse --json` over every shared corpus file listed N times
# (default 10), side by side in the same run with `cat` on the same list (the floor: only
# reading the files) and with Sisimai 4.25 (Debian libsisimai-perl). Prints messages per second
# and the ratios the issue asks for. Needs hyperfine and libsisimai-perl:
#   apt-get install hyperfine libsisimai-perl
set -euo pipefail
cd "$(dirname "$0")/.."
times="${1:-10}"
shared="${BOUNCEDOC_SHARED:-../shared}"
[ -d "$shared/corpus/eml" ] || { echo "no $shared/corpus/eml: set BOUNCEDOC_SHARED" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "hyperfine missing: apt-get install hyperfine" >&2; exit 2; }
perl -MSisimai -e1 2>/dev/null || { echo "Sisimai missing: apt-get install libsisimai-perl" >&2; exit 2; }

cargo build --release --quiet
bin="$PWD/target/release/bouncedoc"
list=$(mktemp)
trap 'rm -f "$list" "$list.json"' EXIT
for _ in $(seq "$times"); do ls "$shared"/corpus/eml/*.eml; done > "$list"
n=$(wc -l < "$list")
echo "$n messages ($times x $(ls "$shared"/corpus/eml/*.eml | wc -l) corpus files), one process each, one thread"

hyperfine --warmup 1 --runs "${RUNS:-10}" --export-json "$list.json" \
  --command-name cat "xargs -s 1000000 -a $list cat" \
  --command-name bouncedoc "xargs -s 1000000 -a $list $bin parse --json" \
  --command-name sisimai "xargs -s 1000000 -a $list perl -MSisimai -e 'Sisimai->make(\$_) for @ARGV'" \
  > /dev/null

python3 - "$list.json" "$n" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[2])
# This machine is a shared VM whose speed drifts between runs: the minimum of each command
# is the steadiest figure; the mean is shown beside it.
for name in ("cat", "bouncedoc", "sisimai"):
    r = results[name]
    print(f"{name:10s} min {r['min']*1000:8.1f} ms  mean {r['mean']*1000:8.1f} ms  {n/r['min']:10,.0f} messages/s (at min)")
for stat in ("min", "mean"):
    b, s, c = (results[k][stat] for k in ("bouncedoc", "sisimai", "cat"))
    print(f"[{stat}] bouncedoc / sisimai: {s/b:.1f}x (target >= 25x); cat / sisimai: {s/c:.1f}x; bouncedoc time / cat time: {b/c:.2f} (target <= 2)")
PY
