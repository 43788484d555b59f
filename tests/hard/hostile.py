"""Hostile input against the preloaded shim (run by hostile.sh).

Each case runs small programs under LD_PRELOAD=$UG_LIB with a config in
UPLOADGUARD_CONFIG_TEXT and checks sizes on disk, the log and stderr.
Prints PASS/FAIL/INFO lines; exits 1 when a case failed.
"""
import json, os, shutil, subprocess, sys, tempfile, time

LIB = os.environ["UG_LIB"]
failed = []


def run(cfg, code, env_extra=None, timeout=30):
    env = dict(os.environ, LD_PRELOAD=LIB)
    env.pop("UPLOADGUARD_CONFIG", None)
    env.pop("UPLOADGUARD_CONFIG_TEXT", None)
    if len(cfg) > 65536:  # over what an environment string may hold
        fd, path = tempfile.mkstemp(prefix="ughostile-", suffix=".conf")
        os.write(fd, cfg.encode())
        os.close(fd)
        env["UPLOADGUARD_CONFIG"] = path
    else:
        env["UPLOADGUARD_CONFIG_TEXT"] = cfg
    if env_extra:
        env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, timeout=timeout)


def check(name, ok, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))
    sys.stdout.flush()
    if not ok:
        failed.append(name)


def log_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def valid_json(lines):
    for l in lines:
        try:
            json.loads(l)
        except Exception:
            return False
    return True


WRITE6000 = """
import os, sys
p = os.fsencode(sys.argv[1]) if len(sys.argv) > 1 else %r
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
try:
    n = os.write(fd, b"x" * 6000)
except OSError as e:
    n = -e.errno
print(n)
"""


def write6000(cfg, path, **kw):
    code = ("import os\np = %r\n" % path) + WRITE6000.replace(
        "os.fsencode(sys.argv[1]) if len(sys.argv) > 1 else %r", "p")
    return run(cfg, code, **kw)


def main():
    top = tempfile.mkdtemp(prefix="ughostile.")
    log = os.path.join(top, "events.jsonl")
    root = os.path.join(top, "cap")
    os.mkdir(root)
    base = "[guard]\nmode = deny\nlog = %s\n" % log
    cfg = base + "[upload %s]\nmax_file = 4096\n" % root

    # -- a path longer than PATH_MAX (reached through relative opens) ----
    deep = root
    rel = []
    while len(deep) < 5000:
        deep = os.path.join(deep, "d" * 200)
        rel.append("d" * 200)
    code = """
import os
fd = os.open(%r, os.O_RDONLY)
for c in %r:
    try: os.mkdir(c, dir_fd=fd)
    except FileExistsError: pass
    nfd = os.open(c, os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
w = os.open("f", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=fd)
try: n = os.write(w, b"x" * 6000)
except OSError as e: n = -e.errno
print(n, os.fstat(w).st_size)
""" % (root, rel)
    r = run(cfg, code)
    out = r.stdout.decode().split()
    # A documented limit (README, Limits): a file whose absolute path is
    # longer than PATH_MAX cannot be named by readlink(/proc/self/fd/N), so
    # it is not guarded.  This pins it (no crash, the write goes through):
    # when it changes, the README must too.
    check("path_longer_than_PATH_MAX_unguarded_as_documented",
          r.returncode == 0 and out[:1] == ["6000"],
          "rc=%d out=%r err=%r" % (r.returncode, out, r.stderr[-300:]))
    # exactly at the limit: a name of 255 bytes, a path near 4095
    near = root
    while len(near) + 256 < 4000:
        near = os.path.join(near, "e" * 200)
    os.makedirs(near, exist_ok=True)
    p = os.path.join(near, "n" * (4094 - len(near) - 1))
    r = write6000(cfg, p)
    check("path_near_PATH_MAX", r.returncode == 0 and r.stdout.split() == [b"4096"],
          "len=%d rc=%d out=%r err=%r" % (len(p), r.returncode, r.stdout, r.stderr[-300:]))

    # -- non-UTF-8 and control bytes in a path: the log stays valid JSON --
    name = b"bad\xff\xfe\x01\x1b[31m\n\"\\\x7f\xc3(" 
    p = os.fsencode(root) + b"/" + name
    before = len(log_lines(log))
    r = write6000(cfg, p)
    lines = log_lines(log)[before:]
    ok = r.returncode == 0 and r.stdout.split() == [b"4096"] and lines and valid_json(lines)
    if ok:
        ev = json.loads(lines[0])
        back = os.fsencode(ev["path"])  # surrogateescape gives the bytes back
        ok = back == p
    check("control_bytes_in_path", ok, "rc=%d out=%r lines=%r" % (r.returncode, r.stdout, lines[:1]))

    # -- cookies with control bytes: binding ignored or digested, log valid --
    scfg = cfg + "[session]\nfrom = cookie:sid\nsalt = s\n"
    code = r"""
import os, socket, threading
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
def client():
    c = socket.create_connection(("127.0.0.1", port))
    for ck in (b"sid=ab\x01\x1b\xff\"\\cd", b"sid=" + b"\x7f" * 300, b"sid=okay\x00zz", b"sid=SECRETSESSION42"):
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + ck + b"\r\n\r\n")
        c.recv(1)
    c.close()
t = threading.Thread(target=client); t.start()
s, _ = srv.accept()
for i in range(4):
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    fd = os.open(%r + "/ck%%d" %% i, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"x" * 6000); os.close(fd)
    s.sendall(b"k")
t.join(); print("ok")
""" % root
    before = len(log_lines(log))
    r = run(scfg, code)
    lines = log_lines(log)[before:]
    ok = r.returncode == 0 and len(lines) >= 4 and valid_json(lines) \
        and not any(b"SECRETSESSION42" in l for l in lines)
    check("control_bytes_in_cookies", ok, "rc=%d lines=%d err=%r" % (r.returncode, len(lines), r.stderr[-300:]))

    # -- a config with 10,000 roots ------------------------------------------
    many = os.path.join(top, "many")
    os.mkdir(many)
    c = base + "".join("[upload %s/r%d]\nmax_file = 4096\n" % (many, i) for i in range(10000))
    os.mkdir(os.path.join(many, "r9999"))
    t0 = time.time()
    r = write6000(c, os.path.join(many, "r9999", "f"), timeout=120)
    dt = time.time() - t0
    print("INFO config with 10000 roots: start+write %.2f s, stderr %d bytes" % (dt, len(r.stderr)))
    check("config_10000_roots", r.returncode == 0 and r.stdout.split() == [b"4096"],
          "rc=%d out=%r err=%r" % (r.returncode, r.stdout, r.stderr[-300:]))

    # -- a config with a 1 MiB line --------------------------------------------
    c = base + "; " + "A" * (1 << 20) + "\n[upload %s]\nmax_file = 4096\n" % root
    r = write6000(c, os.path.join(root, "mib"))
    check("config_1MiB_comment_line", r.returncode == 0 and r.stdout.split() in ([b"4096"], [b"6000"]),
          "rc=%d out=%r err=%r" % (r.returncode, r.stdout, r.stderr[-200:]))
    c = base + "[upload %s]\nmax_file = 4096\nmode = " % root + "d" * (1 << 20) + "\n"
    r = write6000(c, os.path.join(root, "mib2"))
    err = r.stderr.decode(errors="replace")
    check("config_1MiB_value_line", r.returncode == 0 and "uploadguard" in err and len(err) < 4096,
          "rc=%d stderr(%d)=%r" % (r.returncode, len(err), err[:200]))
    print("INFO 1 MiB line message: %r" % err.strip()[:160])

    # -- nested and overlapping roots: the deepest wins --------------------------
    outer = os.path.join(top, "outer")
    inner = os.path.join(outer, "inner")
    os.makedirs(inner)
    c = base + "[upload %s]\nmax_file = 8192\n[upload %s]\nmax_file = 4096\n" % (outer, inner)
    ra = write6000(c, os.path.join(inner, "f"))
    rb = run(c, "import os\nfd=os.open(%r, os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o644)\nprint(os.write(fd, b'x'*10000))" % os.path.join(outer, "g"))
    check("nested_roots_deepest_wins", ra.stdout.split() == [b"4096"] and rb.stdout.split() == [b"8192"],
          "inner=%r outer=%r err=%r" % (ra.stdout, rb.stdout, rb.stderr[-200:]))
    # the same root twice (spelled differently) is a config error that
    # names file:line; the guard stays off (fail-open), the host runs
    c = base + "[upload %s]\nmax_file = 8192\n[upload %s/]\nmax_file = 16384\n" % (outer, outer + "/./inner/..")
    r = write6000(c, os.path.join(outer, "h"))
    err = r.stderr.decode(errors="replace")
    check("overlapping_duplicate_root_reported", r.returncode == 0 and "duplicate" in err and "line 4" in err,
          "rc=%d err=%r" % (r.returncode, err))
    # -- a root that is a symlink ------------------------------------------------
    real = os.path.join(top, "realdir")
    os.mkdir(real)
    link = os.path.join(top, "linkroot")
    os.symlink(real, link)
    c = base + "[upload %s]\nmax_file = 4096\n" % link
    ra = write6000(c, os.path.join(link, "a"))
    rb = write6000(c, os.path.join(real, "b"))
    check("root_is_symlink", ra.stdout.split() == [b"4096"] and rb.stdout.split() == [b"4096"],
          "via link %r, via real path %r" % (ra.stdout, rb.stdout))

    # -- a root deleted and recreated while the process runs ---------------------
    gone = os.path.join(top, "gone")
    os.mkdir(gone)
    c = base + "[upload %s]\nmax_file = 4096\nmax_total = 20000\n" % gone
    code = """
import os, shutil
r = %r
def w(n):
    fd = os.open(r + "/" + n, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try: k = os.write(fd, b"x" * 6000)
    except OSError as e: k = -e.errno
    os.close(fd); return k
a = w("a")
shutil.rmtree(r); os.mkdir(r)
b = w("b")
os.rmdir(r) if False else None
shutil.rmtree(r); os.symlink("/tmp", r) if False else os.mkdir(r)
c = w("c")
print(a, b, c)
""" % gone
    r = run(c, code)
    check("root_deleted_and_recreated", r.stdout.split() == [b"4096"] * 3,
          "rc=%d out=%r err=%r" % (r.returncode, r.stdout, r.stderr[-300:]))

    # -- a filesystem mounted below a root (a volume, a bind mount) ----------
    if os.geteuid() == 0 and shutil.which("unshare"):
        mroot = os.path.join(top, "mroot")
        os.makedirs(os.path.join(mroot, "vol"))
        c = base + "[upload %s]\nmax_file = 4096\n" % mroot
        env = dict(os.environ, LD_PRELOAD=LIB, UPLOADGUARD_CONFIG_TEXT=c)
        sh = ("mount --make-rprivate / && mount -t tmpfs -o size=1m tmpfs %s/vol && "
              "%s -c 'import os; fd = os.open(\"%s/vol/f\", os.O_WRONLY | os.O_CREAT, 0o644); "
              "print(os.write(fd, b\"x\" * 6000))'") % (mroot, sys.executable, mroot)
        r = subprocess.run(["unshare", "-m", "sh", "-c", sh], env=env,
                           capture_output=True, timeout=30)
        # BUG (see the hardening report): ug__dev_guarded() only knows the
        # roots' own st_dev, so a file on another filesystem mounted below
        # a root is never classified: the write passes uncapped.
        check("mount_below_root", r.stdout.split() == [b"4096"],
              "rc=%d out=%r err=%r" % (r.returncode, r.stdout, r.stderr[-200:]))
    else:
        print("SKIP mount_below_root: needs root and unshare")

    # -- a root that does not exist at start, created later ----------------------
    later = os.path.join(top, "later")
    c = base + "[upload %s]\nmax_file = 4096\n" % later
    code = "import os\nos.mkdir(%r)\n" % later + WRITE6000.replace(
        "os.fsencode(sys.argv[1]) if len(sys.argv) > 1 else %r", repr(later + "/f"))
    r = run(c, code)
    check("root_created_after_start", r.stdout.split() == [b"4096"],
          "out=%r err=%r" % (r.stdout, r.stderr[-200:]))

    if not failed:
        shutil.rmtree(top, ignore_errors=True)
    else:
        print("scratch kept: " + top)
    print("%d failed" % len(failed))
    return 1 if failed else 0


sys.exit(main())
