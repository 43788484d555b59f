"""Counts valgrind error records that are the shim's own (used by
sanitize.sh).  A record is the shim's when the first frame outside libc,
ld.so, valgrind's preload and libunwind is in a shim/ source file, except
"Syscall param" records whose frames reach the test program (the caller's
own bad buffer passed through a hook, on purpose in the errno table).
Leaks: "definitely lost" blocks that shim code itself allocated.
Prints the count, then the first few records."""
import re, sys

SHIM = re.compile(r"\((backtrace|caps|config|digest|fdtab|hook_[a-z]+|http|init|json|log|path|policy|real|seccomp|session|totals)\.c:\d+\)")
NOISE = re.compile(r"\(in /(usr/)?lib.*/(libc\.so|ld-linux|libunwind|vgpreload)|\((syscall\.S|[a-z_]+\.S):\d+\)|/libc\.so|\.\./sysdeps/")
KINDS = re.compile(r"Invalid|uninitialised|Syscall param|Possible data race|Lock order|definitely lost|Mismatched|overlap|Conflicting|Use of")
# Races helgrind/drd report because they do not model C11 atomics: the
# event buffers in log.c are claimed with atomic_flag_test_and_set and
# written by one thread at a time (the JSON writer fills them).
HANDOFF = re.compile(r"\((json)\.c:\d+\)")
UNWIND_GATE = re.compile(r"ug__bt_take \(backtrace\.c:\d+\)")
found = []
for path in sys.argv[1:]:
    rec = []
    for line in open(path, errors="replace"):
        body = re.sub(r"^==\d+== ?", "", line.rstrip("\n"))
        if not body.strip():
            if rec and KINDS.search(rec[0]):
                frames = [l for l in rec[1:] if re.match(r"\s*(at|by) 0x", l)]
                if "definitely lost" in rec[0]:
                    # the shim's leak: the allocator was called from shim code
                    after = [f for f in frames if "vgpreload" not in f]
                    mine = bool(after) and bool(SHIM.search(after[0]))
                else:
                    first = next((f for f in frames if not NOISE.search(f)), "")
                    mine = bool(SHIM.search(first))
                    if mine and rec[0].startswith("Syscall param") and any("tests/" in f or "test_" in f for f in frames):
                        mine = False
                if mine and ("data race" in rec[0] or "Conflicting" in rec[0]):
                    first = next((f for f in frames if not NOISE.search(f) and "vgpreload" not in f), "")
                    if HANDOFF.search(first):
                        mine = False
                    # libunwind's globals, written by its one-time load in
                    # another thread and published to the tracing thread by
                    # backtrace.c's acquire/release gate (bt_state), which
                    # the tools do not model either
                    if frames and "libunwind" in frames[0] and UNWIND_GATE.search(first):
                        mine = False
                if mine:
                    found.append(path + ":\n  " + "\n  ".join(rec[:12]))
            rec = []
        else:
            rec.append(body)
print(len(found))
for r in found[:5]:
    print(r, file=sys.stderr)
