#!/bin/sh
# The exported-symbol contract, checked with nm -D:
#  - libc exports every name in shim/hooks.def (we claim nothing it lacks);
#  - the shim exports exactly those names plus the public API;
#  - the shim needs no library but libc (its dependencies never change how
#    the host binds: libunwind is dlopen'ed RTLD_LOCAL);
#  - every name has an integration test named hook_<name>.
set -eu
: "${UG_LIB:?run through make test}"
B=$(dirname "$UG_LIB")
LIBC=$(ldd "$UG_LIB" | awk '/libc\.so/ {print $3}')
fail=0

names=$(grep -v '^ *$' "$B/exports.txt" | grep -v '^ug_session_')
libc_syms=$(nm -D --defined-only "$LIBC" | awk '{print $3}' | sed 's/@.*//' | sort -u)
for n in $names; do
	if ! printf '%s\n' "$libc_syms" | grep -qx "$n"; then
		echo "FAIL: libc ($LIBC) does not export $n"
		fail=1
	fi
done

exported=$(nm -D --defined-only "$UG_LIB" | awk '{print $3}' | sed 's/@.*//' | sort -u)
expected=$(sort -u "$B/exports.txt")
if [ "$exported" != "$expected" ]; then
	echo "FAIL: exported symbols differ from hooks.def + API:"
	printf '%s\n' "$exported" >/tmp/ug-exp.$$
	printf '%s\n' "$expected" | diff /tmp/ug-exp.$$ - || true
	rm -f /tmp/ug-exp.$$
	fail=1
fi

needed=$(readelf -d "$UG_LIB" | awk '/NEEDED/ {print $5}' | tr -d '[]' | sort | tr '\n' ' ')
if [ "$needed" != "libc.so.6 " ]; then
	echo "FAIL: the shim needs more than libc: $needed"
	fail=1
fi

for n in $names; do
	if ! grep -q "hook_$n\b" "$UG_ROOT"/tests/integ/*.c; then
		echo "FAIL: no integration test hook_$n"
		fail=1
	fi
done
count=$(printf '%s\n' $names | wc -l)
[ $fail -eq 0 ] && echo "ok: $count interposed names, all exported by libc, all tested"
exit $fail
