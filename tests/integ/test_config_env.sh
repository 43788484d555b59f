#!/bin/sh
# How the guard starts: config file, environment, errors, on_error, only.
# Each case runs `head -c 6000 /dev/zero > ROOT/f` under the preload and
# checks the file's size, the exit status and what reached stderr.
set -u
: "${UG_LIB:?run through make test}"
T=$(mktemp -d /tmp/ugcfg.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/root"
fails=0

# run NAME EXPECT_SIZE EXPECT_RC STDERR_PATTERN -- env assignments...
run() {
	name=$1 size=$2 rc=$3 pat=$4
	shift 5
	rm -f "$T/root/f" "$T/err"
	env "$@" LD_PRELOAD="$UG_LIB" sh -c "head -c 6000 /dev/zero > '$T/root/f'" 2>"$T/err"
	got=$?
	sz=$(stat -c %s "$T/root/f" 2>/dev/null || echo none)
	ok=1
	[ "$got" = "$rc" ] || ok=0
	[ "$sz" = "$size" ] || ok=0
	if [ -n "$pat" ]; then grep -q -- "$pat" "$T/err" || ok=0
	else [ -s "$T/err" ] && grep -qv "cannot create\|File too large\|write error" "$T/err" && ok=0; fi
	if [ $ok = 1 ]; then echo "ok   $name"
	else
		echo "FAIL $name: rc=$got (want $rc) size=$sz (want $size) stderr:"
		sed 's/^/     /' "$T/err"
		fails=$((fails + 1))
	fi
}

good="[guard]
mode = deny
log = $T/ev.jsonl
[upload $T/root]
max_file = 4096"
printf '%s\n' "$good" > "$T/good.conf"
printf '[guard]\nmode = deny\n[upload %s/root]\nmax_fiel = 4096\n' "$T" > "$T/typo.conf"
printf '[guard]\non_error = closed\nmode = deny\n[upload %s/root]\nmax_file = 4K\nmode = dney\n' "$T" > "$T/closed.conf"

run "no config: inert"            6000 0 "" -- UPLOADGUARD_CONFIG=
run "config file caps"            4096 1 "" -- UPLOADGUARD_CONFIG="$T/good.conf"
run "inline config text"          4096 1 "" -- UPLOADGUARD_CONFIG_TEXT="$good"
run "UPLOADGUARD_DISABLE=1"       6000 0 "" -- UPLOADGUARD_CONFIG="$T/good.conf" UPLOADGUARD_DISABLE=1
run "UPLOADGUARD_MODE=log"        6000 0 "" -- UPLOADGUARD_CONFIG="$T/good.conf" UPLOADGUARD_MODE=log
run "bad UPLOADGUARD_MODE"        6000 0 "UPLOADGUARD_MODE: bad mode 'nope'" -- UPLOADGUARD_CONFIG="$T/good.conf" UPLOADGUARD_MODE=nope
run "typo names file:line, open"  6000 0 "typo.conf:4: unknown key 'max_fiel'" -- UPLOADGUARD_CONFIG="$T/typo.conf"
run "on_error = closed exits 78"  none 78 "closed.conf:6: bad mode 'dney'" -- UPLOADGUARD_CONFIG="$T/closed.conf"
run "missing config file named"   6000 0 "$T/nope.conf" -- UPLOADGUARD_CONFIG="$T/nope.conf"
run "only: other programs inert"  6000 0 "" -- UPLOADGUARD_CONFIG_TEXT="[guard]
only = /nonexistent/*
$good"
run "only: matching program"      4096 1 "" -- UPLOADGUARD_CONFIG_TEXT="[guard]
only = /usr/bin/head
mode = deny
log = $T/ev.jsonl
[upload $T/root]
max_file = 4096"
run "UPLOADGUARD_LOG redirects"   4096 1 "" -- UPLOADGUARD_CONFIG="$T/good.conf" UPLOADGUARD_LOG="$T/other.jsonl"
[ -s "$T/other.jsonl" ] && echo "ok   log went to UPLOADGUARD_LOG" || { echo "FAIL no event in UPLOADGUARD_LOG"; fails=$((fails + 1)); }

echo "$fails failed"
[ $fails -eq 0 ]
