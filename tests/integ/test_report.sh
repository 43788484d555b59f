#!/bin/sh
# The investigator's walk-through, end to end: a C upload server
# (tests/integ/ugserver.c, built -g) runs under `uploadguard run` with a
# 1 MiB cap; a 3 MiB upload is cut to 1 MiB and logged; then
# `uploadguard report` names handle_upload in the top stack and
# `uploadguard symbolize` gives its file:line.  Prints each step.
set -eu
ROOT=${UG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${UG_BUILD:-$ROOT/build}
LIB=${UG_LIB:-$BUILD/libuploadguard.so}
SERVER=$BUILD/tests/integ/ugserver
UG="$ROOT/tools/uploadguard"
[ -f "$LIB" ] || { echo "SKIP: no shim at $LIB"; exit 77; }
[ -x "$SERVER" ] || { echo "SKIP: no $SERVER (make tests)"; exit 77; }
command -v addr2line >/dev/null || { echo "SKIP: no addr2line"; exit 77; }
export UPLOADGUARD_LIB="$LIB"

D=$(mktemp -d /tmp/ugreport.XXXXXX)
trap 'rm -rf "$D"' EXIT
mkdir "$D/uploads"
LOG=$D/events.jsonl

"$UG" run --upload "$D/uploads" --max-file 1M --mode deny --log "$LOG" \
	-- "$SERVER" "$D/uploads/big.bin" "$D/port" 1 &
srv=$!
i=0
while [ ! -s "$D/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
PORT=$(cat "$D/port")

status=$(python3 - "$PORT" <<'EOF'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
c.request("PUT", "/big.bin", body=b"u" * (3 << 20))
print(c.getresponse().status)
EOF
)
wait $srv
echo "server answered: $status"
[ "$status" = 413 ]
size=$(stat -c %s "$D/uploads/big.bin")
echo "on disk: $size bytes"
[ "$size" = 1048576 ]

echo "\$ uploadguard report $LOG"
"$UG" report "$LOG" | tee "$D/report.txt"
grep -q "handle_upload" "$D/report.txt"

"$UG" report --json "$LOG" >"$D/report.json"
python3 - "$D/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
top = r["stacks"][0]
assert "handle_upload" in top["frames"], top
assert top["frames"][0] == "handle_upload", top   # the frame that wrote
assert r["by_rule"] == {"max_file": r["occurrences"]}, r["by_rule"]
assert r["by_verdict"].get("denied", 0) >= 1, r["by_verdict"]
assert r["lost"] == 0 and r["skipped"]["not_json"] == 0, r
EOF

echo "\$ uploadguard symbolize $LOG"
"$UG" symbolize "$LOG" | tee "$D/sym.txt"
line=$(grep -n 'handle_upload(c, dest' "$ROOT/tests/integ/ugserver.c" | head -1 | cut -d: -f1)
wline=$(grep -n 'ssize_t w = write(fd' "$ROOT/tests/integ/ugserver.c" | cut -d: -f1)
grep -q "#0 handle_upload at .*tests/integ/ugserver.c:$wline " "$D/sym.txt"
grep -q "serve at .*tests/integ/ugserver.c:$line " "$D/sym.txt"
echo "ok: report names handle_upload; symbolize gives ugserver.c:$wline"
