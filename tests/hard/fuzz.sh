#!/bin/sh
# Long: skipped by make test; tests/hard/run-all (make check-hard) sets UG_HARD_LONG=1.
if [ "${UG_HARD_LONG:-0}" != 1 ]; then echo "SKIP: long test, run by tests/hard/run-all (make check-hard)"; exit 77; fi
# Builds the libFuzzer targets in tests/fuzz (clang, -fsanitize=fuzzer,
# address,undefined) against the pure shim modules and runs each for
# FUZZ_SECONDS (default 20) from its seed corpus; fails on a crash.
# First every file of tests/fuzz/corpus/<target>/ and tests/fuzz/regress/
# <target>/ is replayed (the regression tests for crashes once found).
# Prints "FUZZ <target> execs=N" lines.  Exit 77 when clang or the
# libFuzzer runtime (libclang-rt-14-dev) is missing.
set -u
ROOT=${UG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${UG_BUILD:-$ROOT/build}/fuzz
SECS=${FUZZ_SECONDS:-20}
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "SKIP: $CC not installed"; exit 77; }
mkdir -p "$OUT"
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' > "$OUT/probe.c"
"$CC" -fsanitize=fuzzer "$OUT/probe.c" -o "$OUT/probe" 2>/dev/null ||
	{ echo "SKIP: no libFuzzer runtime (apt-get install libclang-rt-14-dev)"; exit 77; }
PURE="config json path http digest caps"
SRCS=""
for m in $PURE; do SRCS="$SRCS $ROOT/shim/$m.c"; done
fail=0
for t in ${FUZZ_TARGETS:-fuzz_config fuzz_size fuzz_path fuzz_http fuzz_json}; do
	bin="$OUT/$t"
	"$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-DUG_BUILDING_SHIM -D_GNU_SOURCE -std=gnu11 -I"$ROOT/include" -I"$ROOT/shim" \
		-o "$bin" "$ROOT/tests/fuzz/$t.c" $SRCS || { echo "FAIL $t: build"; fail=1; continue; }
	corpus="$OUT/corpus-$t"
	mkdir -p "$corpus"
	cp "$ROOT/tests/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null
	# replay the seeds and every regression input once
	reg="$ROOT/tests/fuzz/regress/$t"
	if ! "$bin" -runs=0 "$ROOT/tests/fuzz/corpus/$t" $( [ -d "$reg" ] && echo "$reg" ) >"$OUT/$t.replay.log" 2>&1; then
		echo "FAIL $t: a seed or regression input crashes (log $OUT/$t.replay.log)"
		grep -m3 -E "ERROR|SUMMARY|runtime error|Test unit" "$OUT/$t.replay.log"
		fail=1
	fi
	( cd "$OUT" && "$bin" -max_total_time="$SECS" -print_final_stats=1 \
		-max_len=8192 -timeout=10 -rss_limit_mb=2048 "$corpus" >"$OUT/$t.log" 2>&1 )
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t.log")
	echo "FUZZ $t execs=${execs:-?} seconds=$SECS corpus=$(ls "$corpus" | wc -l) rc=$rc"
	if [ $rc -ne 0 ]; then
		echo "FAIL $t: crash (log $OUT/$t.log; reproducer $OUT/crash-* or leak-*)"
		grep -m5 -E "ERROR|SUMMARY|runtime error" "$OUT/$t.log"
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "PASS fuzz"
exit $fail
