#!/bin/sh
# Host-wide deployment, in a private mount namespace (never the machine's
# own /etc): /etc/ld.so.preload names the library, /etc/uploadguard.conf
# (found with no environment at all) guards a root for the programs `only`
# matches, and every other program stays untouched.
set -u
: "${UG_LIB:?run through make test}"
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	echo "SKIP: needs root and unshare -m (a private mount namespace)"
	exit 77
fi
T=$(mktemp -d /tmp/ugpreload.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/root"
printf '%s\n' "$UG_LIB" > "$T/ld.so.preload"
cat > "$T/uploadguard.conf" <<CONF
[guard]
mode = deny
log = $T/events.jsonl
only = /usr/bin/head
[upload $T/root]
max_file = 4096
CONF
# A copy of /etc with our two files, bound over /etc in the namespace only:
# nothing is created or changed on the machine's own /etc.
cp -a /etc "$T/etc" 2>/dev/null
cp "$T/ld.so.preload" "$T/uploadguard.conf" "$T/etc/"
# In the namespace, run programs with a cleared environment (nothing names
# the library or the config).
unshare -m sh -c "
	set -e
	mount --make-rprivate / 2>/dev/null || true
	mount --bind '$T/etc' /etc
	env -i /usr/bin/head -c 6000 /dev/zero > '$T/root/head.out' 2>'$T/head.err' || true
	env -i /bin/dd if=/dev/zero of='$T/root/dd.out' bs=6000 count=1 status=none
	env -i /bin/sh -c 'grep -c . /proc/self/maps >/dev/null; grep -q libuploadguard /proc/self/maps && echo mapped' > '$T/maps'
"
rc=0
head_size=$(stat -c %s "$T/root/head.out")
dd_size=$(stat -c %s "$T/root/dd.out")
if [ "$head_size" = 4096 ]; then echo "ok   head (matched by only) capped at 4096"
else echo "FAIL head wrote $head_size bytes (want 4096)"; rc=1; fi
if [ "$dd_size" = 6000 ]; then echo "ok   dd (not matched by only) untouched"
else echo "FAIL dd wrote $dd_size bytes (want 6000)"; rc=1; fi
if grep -q mapped "$T/maps"; then echo "ok   the loader preloads it with a cleared environment"
else echo "FAIL /etc/ld.so.preload did not load the library"; rc=1; fi
if grep -q '"exe":"/usr/bin/head"' "$T/events.jsonl" 2>/dev/null &&
	! grep -q '"exe":"/usr/bin/dd"' "$T/events.jsonl"; then
	echo "ok   one event, from head"
else echo "FAIL events:"; cat "$T/events.jsonl" 2>/dev/null; rc=1; fi
# the machine's own files are untouched
[ -s /etc/ld.so.preload ] && grep -q uploadguard /etc/ld.so.preload &&
	{ echo "FAIL the machine's /etc/ld.so.preload was changed"; rc=1; }
exit $rc
