#!/bin/sh
# Load under the preload: 64 threads in 8 processes hammering max_total,
# renames and closes in one subtree (tests/hard/load.c), then counts the
# log's events against the violations the workers saw.
# LOAD_SECONDS (default 10; tests/hard/run-all uses 60).  Exit 77 = skip.
set -u
: "${UG_LIB:?}" "${UG_ROOT:?}" "${UG_BUILD:?}"
[ -r "$UG_LIB" ] || { echo "SKIP: no shim at $UG_LIB"; exit 77; }
SECS=${LOAD_SECONDS:-10}
NPROC=${LOAD_PROCS:-8}
NTHR=${LOAD_THREADS:-8}
out="$UG_BUILD/hard"
mkdir -p "$out"
cc -O2 -g -pthread -o "$out/load" "$UG_ROOT/tests/hard/load.c" || exit 1
dir=$(mktemp -d /tmp/ugload.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/tot"
export UPLOADGUARD_CONFIG_TEXT="[guard]
mode = deny
log = $dir/events.jsonl
[upload $dir/tot]
max_total = 1M
"
res=$(LD_PRELOAD="$UG_LIB" timeout -k 5 $((SECS + 60)) "$out/load" "$dir" "$SECS" "$NPROC" "$NTHR")
rc=$?
echo "$res"
viol=$(echo "$res" | sed -n 's/^VIOLATIONS //p')
logged=$(grep -c '"event":"cap_exceeded"' "$dir/events.jsonl" 2>/dev/null || echo 0)
lost=$(grep -o '"lost":[1-9][0-9]*' "$dir/events.jsonl" | wc -l)
bad=$(python3 -c '
import json,sys
n=0
for l in open(sys.argv[1], "rb"):
    try: json.loads(l)
    except Exception: n+=1
print(n)' "$dir/events.jsonl" 2>/dev/null || echo 0)
echo "FIGURES events_expected=${viol:-?} events_logged=$logged lines_with_lost=$lost invalid_json_lines=$bad"
[ "$rc" -eq 0 ] || { echo "FAIL: load exited $rc"; exit 1; }
[ "$logged" = "$viol" ] || { echo "FAIL: $viol violations, $logged events logged"; exit 1; }
[ "$bad" = 0 ] || { echo "FAIL: invalid JSON lines in the log"; exit 1; }
echo "PASS load"
