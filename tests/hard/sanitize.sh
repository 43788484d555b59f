#!/bin/sh
# Long: skipped by make test; tests/hard/run-all (make check-hard) sets UG_HARD_LONG=1.
if [ "${UG_HARD_LONG:-0}" != 1 ]; then echo "SKIP: long test, run by tests/hard/run-all (make check-hard)"; exit 77; fi
# Sanitizers (long: tests/hard/run-all):
#  1. make B=build-asan SANITIZE=address,undefined: the unit tests and
#     uploadguard-check under ASan+UBSan.
#  2. TSan: a TSan-built shim cannot be preloaded into uninstrumented
#     programs (the TSan runtime must come first and own the allocator), so
#     the threaded integration tests run under valgrind --tool=helgrind
#     instead, with the shim built normally (-O1 -g).
#  3. valgrind memcheck with --trace-children=yes over test_hooks and
#     test_life's threaded cases: errors whose stack touches the shim fail.
# Exit 77 when valgrind is missing (step 1 still runs).
set -u
ROOT=${UG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT"
fail=0
J=$(nproc 2>/dev/null || echo 2)

echo "== ASan+UBSan: unit tests"
make -s B=build-asan SANITIZE=address,undefined -j"$J" all tests >/tmp/ug-build-asan.log 2>&1
if [ $? -eq 0 ]; then
	for t in build-asan/tests/test_*; do
		[ -x "$t" ] || continue
		if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			"$t" >"$t.san.log" 2>&1; then
			echo "PASS asan $(basename "$t")"
		else
			echo "FAIL asan $(basename "$t") (log $t.san.log)"; tail -20 "$t.san.log"; fail=1
		fi
	done
else
	echo "FAIL asan build (/tmp/ug-build-asan.log)"; tail -20 /tmp/ug-build-asan.log; fail=1
fi

command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; [ $fail -eq 0 ] && exit 77; exit 1; }
make -s B=build-vg CFLAGS="-O1 -g" -j"$J" all tests >/tmp/ug-build-vg.log 2>&1 || { echo "FAIL vg build"; exit 1; }
LIB="$ROOT/build-vg/libuploadguard.so"
SUP="$ROOT/tests/hard/valgrind.supp"
out="$ROOT/build-vg/valgrind"
mkdir -p "$out"

# valgrind cannot follow the drivers' re-exec of /proc/self/exe (under
# valgrind that names the tool binary: "mmap failed in UME"), so the cases
# run directly under the preload: test_life's cases (UG_LIFE_CASE) and the
# errno table (UG_TEST_ROLE=table).  The shim's own errors: any error record
# whose stack names libuploadguard.
vgdir=$(mktemp -d /tmp/ugvg.XXXXXX)
chmod 755 "$vgdir"
for d in cap tot open out errno errno/g errno/u errno/g/full errno/u/full; do mkdir -p "$vgdir/$d"; chmod 777 "$vgdir/$d"; done
LIFECFG="[guard]
mode = deny
log = $vgdir/events.jsonl
[upload $vgdir/cap]
max_file = 4096
[upload $vgdir/tot]
max_total = 65536
[upload $vgdir/open]
max_file = 4096
[upload $vgdir/errno/g]
max_file = 1G
"
vg() { # tool name cmd...
	tool=$1 name=$2
	shift 2
	env LD_PRELOAD="$LIB" UPLOADGUARD_CONFIG_TEXT="$LIFECFG" UG_LIFE_DIR="$vgdir" UG_LIFE_ALARM=800 \
		UG_ERRNO_BASE="$vgdir/errno" UG_ERRNO_OUT="$vgdir/errno.out" \
		timeout -k 10 900 valgrind --tool="$tool" --trace-children=yes \
		--suppressions="$SUP" --log-file="$out/$name.%p.log" \
		$( [ "$tool" = memcheck ] && echo --leak-check=full --errors-for-leak-kinds=definite ) \
		"$@" >"$out/$name.out" 2>&1
	rc=$?
	n=$(python3 "$ROOT/tests/hard/vgfilter.py" "$out/$name".*.log 2>"$out/$name.shim-errors")
	all=$(grep -h "ERROR SUMMARY" "$out/$name".*.log 2>/dev/null | awk '{s+=$4} END{print s+0}')
	echo "$tool $name: exit $rc, valgrind records (all, incl. libc noise and the errno table's deliberate bad calls) $all, shim errors $n (logs $out/$name.*.log)"
	[ "$n" = 0 ] || head -40 "$out/$name.shim-errors"
	[ "$n" = 0 ] || fail=1
	[ "$rc" -lt 128 ] || { echo "  (killed: exit $rc)"; fail=1; }
}
rm -f "$out"/*.log
life=build-vg/tests/integ/test_life
vg memcheck errno_table env UG_TEST_ROLE=table build-vg/tests/integ/test_errno
vg memcheck life_fork env UG_LIFE_CASE=fork_storm $life
vg memcheck life_signals env UG_LIFE_CASE=signals $life
vg memcheck life_daemon env UG_LIFE_CASE=daemon $life
vg helgrind life_fork_hg env UG_LIFE_CASE=fork_storm $life
vg helgrind life_capped_hg env UG_LIFE_CASE=preload_twice $life
vg drd life_capped_drd env UG_LIFE_CASE=preload_twice $life
rm -rf "$vgdir"
[ $fail -eq 0 ] && echo "PASS sanitize"
exit $fail
