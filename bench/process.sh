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

hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$list.json" \
  --command-name cat "xargs -s 1000000 -a $list cat" \
  --command-name bouncedoc "xargs -s 1000000 -a $list $bin parse --json" \
  --command-name sisimai "xargs -s 1000000 -a $list perl -MSisimai -e 'Sisimai->make(\$_) for @ARGV'" \
  > /dev/null

python3 - "$list.json" "$n" <<'PY'
import json, sys
runs = {r["command"]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[2])
for name in ("cat", "bouncedoc", "sisimai"):
    print(f"{name:10s} {runs[name]*1000:9.1f} ms  {n/runs[name]:12,.0f} messages/s")
print(f"bouncedoc / sisimai: {runs['sisimai']/runs['bouncedoc']:.1f}x  (target >= 25x)")
print(f"cat / sisimai:       {runs['sisimai']/runs['cat']:.1f}x")
print(f"bouncedoc time / cat time: {runs['bouncedoc']/runs['cat']:.2f}  (target <= 2)")
PY
