"""Security of the shim itself (run by security.sh): the log is not a way to
write files, and the shared-totals segment in /dev/shm cannot be used by
another user to lift a cap or crash a guarded process.  Root only for the
other-uid cases (skipped otherwise).  Prints PASS/FAIL/SKIP/INFO lines.
"""
import hashlib, json, os, shutil, struct, subprocess, sys, tempfile

LIB = os.environ["UG_LIB"]
failed = []


def run(cfg, code, timeout=30):
    env = dict(os.environ, LD_PRELOAD=LIB, UPLOADGUARD_CONFIG_TEXT=cfg)
    env.pop("UPLOADGUARD_CONFIG", None)
    return subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, timeout=timeout)


def check(name, ok, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))
    sys.stdout.flush()
    if not ok:
        failed.append(name)


def w(path, n=6000):
    return """
import os
fd = os.open(%r, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
try: k = os.write(fd, b"x" * %d)
except OSError as e: k = -e.errno
print(k)
""" % (path, n)


def shm_name(real):
    st = os.stat(real)
    h = hashlib.sha256(real.encode() + struct.pack("QQ", st.st_dev, st.st_ino)).hexdigest()
    return "/dev/shm/uploadguard-" + h[:20]


def main():
    root_user = os.geteuid() == 0
    top = tempfile.mkdtemp(prefix="ugsec.")
    os.chmod(top, 0o755)
    cap = os.path.join(top, "cap")
    os.mkdir(cap)

    # -- a symlink planted at the log path is refused --------------------------
    target = os.path.join(top, "victim")
    with open(target, "w") as f:
        f.write("precious\n")
    logp = os.path.join(top, "planted.jsonl")
    os.symlink(target, logp)
    cfg = "[guard]\nmode = deny\nlog = %s\n[upload %s]\nmax_file = 4096\n" % (logp, cap)
    r = run(cfg, w(cap + "/a"))
    err = r.stderr.decode(errors="replace")
    check("log_symlink_refused",
          open(target).read() == "precious\n" and "symlink" in err and r.stdout.split() == [b"4096"],
          "victim=%r stderr=%r out=%r" % (open(target).read()[:80], err, r.stdout))
    # a FIFO at the log path neither hangs nor is used
    fifo = os.path.join(top, "fifo.jsonl")
    os.mkfifo(fifo)
    cfg = "[guard]\nmode = deny\nlog = %s\n[upload %s]\nmax_file = 4096\n" % (fifo, cap)
    try:
        r = run(cfg, w(cap + "/b"), timeout=10)
        check("log_fifo_refused", r.stdout.split() == [b"4096"] and (b"not a regular file" in r.stderr or b"cannot open log" in r.stderr),
              "out=%r err=%r" % (r.stdout, r.stderr))
    except subprocess.TimeoutExpired:
        check("log_fifo_refused", False, "hung opening a FIFO log")

    # -- a log directory writable by others ---------------------------------------
    # Decision tested here: in a directory others can write (1777, like /tmp),
    # a log file that another user created beforehand must not be used (they
    # could read or rewrite the forensic record); the shim should refuse it.
    if root_user:
        pub = os.path.join(top, "pub")
        os.mkdir(pub)
        os.chmod(pub, 0o1777)
        lp = os.path.join(pub, "events.jsonl")
        with open(lp, "w") as f:
            f.write("")
        os.chown(lp, 65534, 65534)
        os.chmod(lp, 0o666)
        cfg = "[guard]\nmode = deny\nlog = %s\n[upload %s]\nmax_file = 4096\n" % (lp, cap)
        r = run(cfg, w(cap + "/c"))
        used = os.path.getsize(lp) > 0
        # BUG (see the hardening report): the shim appends to a log file
        # owned by another user in a world-writable directory.
        check("log_owned_by_other_user_refused", not used and r.stdout.split() == [b"4096"],
              "the shim wrote its events into a file owned by uid 65534 (%d bytes); stderr=%r"
              % (os.path.getsize(lp), r.stderr[-200:]))
    else:
        print("SKIP log_owned_by_other_user_refused: needs root")

    # -- /dev/shm segment pre-created by another user with wrong contents --------
    seg_root = os.path.join(top, "tot")
    os.mkdir(seg_root)
    cfg = "[guard]\nmode = deny\nlog = %s/ev.jsonl\n[upload %s]\nmax_total = 10000\n" % (top, seg_root)
    name = shm_name(os.path.realpath(seg_root))
    if root_user:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        # magic right, counters forged: "the subtree holds -1 TB"
        forged = struct.pack("<IIQQQqqqQ", 0x55475431, 1, 64, 0, 0, -(1 << 40), 0, 0, 0)
        os.write(fd, forged)
        os.close(fd)
        os.chown(name, 65534, 65534)
        r = run(cfg, w(seg_root + "/big", 20000))
        err = r.stderr.decode(errors="replace")
        check("shm_foreign_owner_refused",
              r.returncode == 0 and r.stdout.split() == [b"10000"] and "not ours" in err,
              "rc=%d out=%r err=%r" % (r.returncode, r.stdout, err))
        print("INFO foreign segment message: %r" % err.strip()[:200])
        os.unlink(name)
        for f in os.listdir(seg_root):
            os.unlink(os.path.join(seg_root, f))
        # world-writable mode, owned by us: refused too (mode 0666)
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        os.write(fd, forged)
        os.fchmod(fd, 0o666)
        os.close(fd)
        r = run(cfg, w(seg_root + "/big2", 20000))
        check("shm_world_writable_refused", r.stdout.split() == [b"10000"] and b"not ours" in r.stderr,
              "out=%r err=%r" % (r.stdout, r.stderr))
        os.unlink(name)
        for f in os.listdir(seg_root):
            os.unlink(os.path.join(seg_root, f))
    else:
        print("SKIP shm_foreign_owner_refused: needs root")

    # -- the segment corrupted by its owner: no crash ------------------------------
    garbage = [
        ("short", b"\x00" * 8),
        ("empty", b""),
        ("bad_magic", os.urandom(64)),
        ("bad_version", struct.pack("<IIQ", 0x55475431, 99, 64) + b"\x00" * 48),
        ("bad_size", struct.pack("<IIQ", 0x55475431, 1, 1 << 60) + b"\x00" * 48),
        ("huge_counters", struct.pack("<IIQQQqqqQ", 0x55475431, 1, 64, 0, 0, (1 << 63) - 1, (1 << 63) - 1, (1 << 63) - 1, (1 << 64) - 1)),
    ]
    for tag, data in garbage:
        if os.path.exists(name):
            os.unlink(name)
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.close(fd)
        r = run(cfg, w(seg_root + "/g", 20000))
        out = r.stdout.split()
        # no crash, and the cap holds (or the write is refused whole)
        check("shm_corrupt_%s_no_crash" % tag,
              r.returncode == 0 and len(out) == 1 and int(out[0]) in (10000, -122) ,
              "rc=%d out=%r err=%r" % (r.returncode, r.stdout, r.stderr[-300:]))
        for f in os.listdir(seg_root):
            os.unlink(os.path.join(seg_root, f))
    if os.path.exists(name):
        os.unlink(name)

    # -- corrupted while a guarded process runs -------------------------------------
    code = """
import os, sys
def wr(p, n):
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try: k = os.write(fd, b"x" * n)
    except OSError as e: k = -e.errno
    os.close(fd); return k
a = wr(%r + "/x1", 4000)
with open(%r, "r+b") as f:
    f.write(os.urandom(64))
b = wr(%r + "/x2", 20000)
print(a, b)
""" % (seg_root, name, seg_root)
    r = run(cfg, code)
    check("shm_corrupt_while_running_no_crash", r.returncode == 0 and len(r.stdout.split()) == 2,
          "rc=%d out=%r err=%r" % (r.returncode, r.stdout, r.stderr[-300:]))
    print("INFO corrupted while running: writes gave %s (cap 10000, 4000 used)" % r.stdout.decode().strip())
    if os.path.exists(name):
        os.unlink(name)

    if not failed:
        shutil.rmtree(top, ignore_errors=True)
    else:
        print("scratch kept: " + top)
    print("%d failed" % len(failed))
    return 1 if failed else 0


sys.exit(main())
