#!/bin/sh
# Security of the shim itself: the log path and the /dev/shm totals segment.
set -u
: "${UG_LIB:?}" "${UG_ROOT:?}"
[ -r "$UG_LIB" ] || { echo "SKIP: no shim at $UG_LIB"; exit 77; }
exec timeout -k 5 120 python3 "$UG_ROOT/tests/hard/security.py"
