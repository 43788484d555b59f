#!/bin/sh
# Hostile input: paths of PATH_MAX and longer, control and non-UTF-8 bytes in
# paths and cookies, a config with 10,000 roots or a 1 MiB line, nested and
# overlapping roots, a symlinked root, a root deleted and recreated.
set -u
: "${UG_LIB:?}" "${UG_ROOT:?}"
[ -r "$UG_LIB" ] || { echo "SKIP: no shim at $UG_LIB"; exit 77; }
exec timeout -k 5 120 python3 "$UG_ROOT/tests/hard/hostile.py"
