"""Shared helpers for the server tests (tests/servers/test_*.py).

Every server test runs real server processes as children of the test, under
the shim (LD_PRELOAD=$UG_LIB, UPLOADGUARD_CONFIG=<tmp>/ug.conf), on 127.0.0.1
with a free port, with everything it writes (configs, pid files, temp dirs,
logs, the guarded roots) in one tempfile.mkdtemp() directory.  Nothing here
touches /etc or system services.  Python 3 stdlib only.

Typical use::

    import common
    from common import GuardedServerTest

    class T(GuardedServerTest):
        def test_x(self):
            root = self.make_root("up")
            self.write_ug_config({root: {"max_file": "1M"}}, mode="deny")
            port = common.free_port()
            proc = self.spawn([...argv...], name="srv")   # killed in cleanup
            common.wait_for_port(port, proc=proc)
            status, _, body = common.http_request(port, "PUT", "/x", b"...")
            events = self.events(rule="max_file")

    if __name__ == "__main__":
        common.main()            # exits 77 with "SKIP: ..." when UG_LIB is unset

Environment (set by tests/run): UG_LIB (absolute path of the .so), UG_ROOT
(the repository), UG_BUILD (the build directory).  Exit 77 = skipped.
"""

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

KiB = 1024
MiB = 1024 * 1024

HERE = os.path.dirname(os.path.abspath(__file__))
UG_ROOT = os.environ.get("UG_ROOT") or os.path.dirname(os.path.dirname(HERE))
UG_LIB = os.environ.get("UG_LIB", "")
UG_BUILD = os.environ.get("UG_BUILD", "")

# ---- skipping -----------------------------------------------------------------


def skip(reason):
    """Prints "SKIP: <reason>" (tests/run shows it) and exits 77."""
    print("SKIP: %s" % reason, flush=True)
    sys.exit(77)


def require_lib():
    """Skips unless UG_LIB names an existing shim; returns its path."""
    if not UG_LIB:
        skip("UG_LIB is not set (run through tests/run, or set it to the .so)")
    if not os.path.isfile(UG_LIB):
        skip("UG_LIB=%s does not exist (build first)" % UG_LIB)
    return UG_LIB


def find_exe(*names, dirs=("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
    """First of names found on PATH or in dirs (servers live in sbin), or None."""
    for name in names:
        p = shutil.which(name)
        if p:
            return p
        for d in dirs:
            p = os.path.join(d, name)
            if os.access(p, os.X_OK):
                return p
    return None


def require_exe(*names, reason=None):
    """Returns the first executable of names, or skips with reason."""
    p = find_exe(*names)
    if not p:
        skip(reason or "%s not installed" % " / ".join(names))
    return p


def main():
    """unittest.main() after require_lib(); exit 0 only when all passed."""
    require_lib()
    unittest.main(verbosity=2)


# ---- ports and waiting ---------------------------------------------------------


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, what="condition", proc=None, interval=0.02):
    """Polls pred() until true.  Fails (AssertionError) after timeout, or at
    once when proc (a Popen) exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            raise AssertionError("%s: process %d exited with %s while waiting"
                                 % (what, proc.pid, proc.returncode))
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(port, timeout=10.0, proc=None, host="127.0.0.1"):
    """Waits until something accepts TCP connections on host:port."""
    wait_until(lambda: port_open(port, host), timeout,
               "%s:%d to accept" % (host, port), proc)


def wait_for_path(path, timeout=10.0, proc=None):
    """Waits until path exists (a unix socket, a pid file)."""
    wait_until(lambda: os.path.exists(path), timeout, "%s to appear" % path,
               proc)


# ---- processes -----------------------------------------------------------------


def preload_env(ug_config, extra=None, base=None):
    """The environment for a guarded server: base (default os.environ) minus
    any inherited UPLOADGUARD_* / LD_PRELOAD, plus LD_PRELOAD=UG_LIB and
    UPLOADGUARD_CONFIG=ug_config, plus extra."""
    env = dict(os.environ if base is None else base)
    for k in list(env):
        if k.startswith("UPLOADGUARD_") or k == "LD_PRELOAD":
            del env[k]
    env["LD_PRELOAD"] = require_lib()
    env["UPLOADGUARD_CONFIG"] = ug_config
    env.update(extra or {})
    return env


def start_process(argv, env, log_path, cwd=None):
    """Starts argv in a new session (its own process group, so stop_process
    can kill it with all its workers), stdout+stderr appended to log_path."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop_process(proc, grace=3.0):
    """SIGTERM to proc's whole process group, SIGKILL after grace seconds;
    waits (bounded) until no member of the group is left."""
    pgid = proc.pid  # start_new_session: the leader's pid is the pgid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(pgid):
                return
            time.sleep(0.02)
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        pass


# ---- HTTP ----------------------------------------------------------------------


def http_request(port, method, path, body=None, headers=None, timeout=30.0,
                 host="127.0.0.1"):
    """One request on a fresh connection.  Returns (status, headers dict with
    lower-case names, body bytes).  A connection the server drops mid-request
    comes back as status 0 with the exception text as body."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    except (ConnectionError, http.client.HTTPException) as e:
        return 0, {}, ("%s: %s" % (type(e).__name__, e)).encode()
    finally:
        conn.close()


def multipart(fields=None, files=None):
    """A multipart/form-data body.  fields: {name: str}; files: {name:
    (filename, bytes)}.  Returns (content_type, body bytes)."""
    boundary = "ugboundary" + uuid.uuid4().hex
    out = []
    for name, value in (fields or {}).items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n"
                    % (boundary, name)).encode() + value.encode() + b"\r\n")
    for name, (filename, data) in (files or {}).items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                    "filename=\"%s\"\r\nContent-Type: application/octet-stream"
                    "\r\n\r\n" % (boundary, name, filename)).encode()
                   + data + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return "multipart/form-data; boundary=%s" % boundary, b"".join(out)


def payload(n, seed=0):
    """n deterministic, non-repeating-ish bytes (so truncation or a mix-up
    between two uploads shows in a byte comparison)."""
    block = hashlib.sha256(b"uploadguard-%d" % seed).digest()
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(block + i.to_bytes(8, "little")).digest()
        i += 1
    return bytes(out[:n])


def parallel(fn, args_list, timeout=60.0):
    """Runs fn(*args) for each args in its own thread, all at once (they
    start together at a barrier).  Returns the results in order; re-raises
    the first exception."""
    results = [None] * len(args_list)
    errors = []
    barrier = threading.Barrier(len(args_list))

    def run(i, args):
        try:
            barrier.wait(timeout)
            results[i] = fn(*args)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, a), daemon=True)
               for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if any(t.is_alive() for t in threads):
        raise AssertionError("parallel: threads still running after %ss" % timeout)
    if errors:
        raise errors[0]
    return results


# ---- files, logs, shared totals ------------------------------------------------


def tree_files(root):
    """{path: size} of the regular files below root (symlinks not followed)."""
    out = {}
    for d, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            if os.path.isfile(p) and not os.path.islink(p):
                out[p] = st.st_size
    return out


def tree_size(root):
    """Bytes in the regular files below root."""
    return sum(tree_files(root).values())


class TreeSampler:
    """Samples tree_size(root) in a background thread (every interval
    seconds) while a concurrent load runs: `max` is the largest total seen.
    Use as a context manager."""

    def __init__(self, root, interval=0.005):
        self.root, self.interval, self.max, self.samples = root, interval, 0, 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.max = max(self.max, tree_size(self.root))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(5)
        self.max = max(self.max, tree_size(self.root))


def read_events(log_path):
    """The JSON-lines log as a list of dicts ([] if it does not exist yet).
    A torn last line (a writer mid-append) is ignored."""
    try:
        with open(log_path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in data.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def select_events(events, **match):
    """The events whose fields equal every key=value in match; a value may be
    a tuple/set/list of accepted values or a callable predicate."""
    def ok(ev, k, want):
        v = ev.get(k)
        if callable(want):
            return want(v)
        if isinstance(want, (tuple, set, list, frozenset)):
            return v in want
        return v == want
    return [e for e in events if all(ok(e, k, w) for k, w in match.items())]


def brief(events, keys=("event", "rule", "verdict", "op", "path", "errno",
                        "requested", "allowed", "pid")):
    """A short text of events for assertion messages."""
    return "\n".join(json.dumps({k: e.get(k) for k in keys}) for e in events) \
        or "(no events)"


def shm_segment(root):
    """The /dev/shm file holding root's shared totals (as shim/totals.c names
    it: sha256(realpath + dev + ino), 10 bytes in hex)."""
    real = os.path.realpath(root)
    st = os.stat(real)
    h = hashlib.sha256(real.encode() + struct.pack("<QQ", st.st_dev, st.st_ino))
    return "/dev/shm/uploadguard-" + h.hexdigest()[:20]


def write_ug_config(path, roots, mode="deny", log=None, extra_guard=None):
    """Writes an uploadguard INI config.  roots: {abs root: {key: value}}
    (max_file, max_total, max_files, mode ...); log: the events file."""
    lines = ["[guard]", "mode = %s" % mode]
    if log:
        lines.append("log = %s" % log)
    for k, v in (extra_guard or {}).items():
        lines.append("%s = %s" % (k, v))
    for root, caps in roots.items():
        lines.append("")
        lines.append("[upload %s]" % root)
        for k, v in caps.items():
            lines.append("%s = %s" % (k, v))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# ---- the base test case --------------------------------------------------------


class GuardedServerTest(unittest.TestCase):
    """Gives each test a fresh temp dir (self.tmp) and cleans up after it:
    spawned process groups are killed, the shared-totals segments of the
    roots made with make_root() are removed from /dev/shm, the temp dir is
    deleted (kept when UG_KEEP_TMP=1, for debugging).  On failure, the tail
    of every spawned process's log is printed."""

    maxDiff = None

    def setUp(self):
        require_lib()
        self.tmp = tempfile.mkdtemp(prefix="ug-%s-" % self.id().split(".")[-1])
        self.ug_conf = os.path.join(self.tmp, "ug.conf")
        self.ug_log = os.path.join(self.tmp, "events.jsonl")
        self._roots = []
        self._logs = []
        self.addCleanup(self._cleanup_tmp)

    # cleanups run last-in first-out: processes stop before files go
    def _cleanup_tmp(self):
        for root in self._roots:
            try:
                os.unlink(shm_segment(root))
            except OSError:
                pass
        if os.environ.get("UG_KEEP_TMP") == "1":
            print("kept %s" % self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def make_dir(self, *parts):
        p = self.path(*parts)
        os.makedirs(p, exist_ok=True)
        return p

    def make_root(self, *parts):
        """Creates a guarded root below self.tmp (it must exist before the
        guarded process starts) and remembers it for /dev/shm cleanup."""
        p = self.make_dir(*parts)
        self._roots.append(p)
        return p

    def write_ug_config(self, roots, mode="deny", **kw):
        """write_ug_config(self.ug_conf, roots, mode, log=self.ug_log)."""
        kw.setdefault("log", self.ug_log)
        return write_ug_config(self.ug_conf, roots, mode, **kw)

    def write_file(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def spawn(self, argv, name, env=None, extra_env=None, cwd=None):
        """Starts a guarded process group (preload_env(self.ug_conf) unless
        env is given), logging to <tmp>/<name>.out; stopped in cleanup."""
        if env is None:
            env = preload_env(self.ug_conf, extra_env)
        log = self.path(name + ".out")
        proc = start_process(argv, env, log, cwd=cwd or self.tmp)
        self._logs.append(log)
        self.addCleanup(self._dump_on_failure, log)
        self.addCleanup(stop_process, proc)
        return proc

    def _dump_on_failure(self, log):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        failed = any(exc for _t, exc in getattr(outcome, "errors", None) or [])
        if result is not None:  # 3.11+: failures are reported at once
            failed = failed or any(t is self for t, _ in
                                   result.failures + result.errors)
        if failed or os.environ.get("UG_VERBOSE") == "1":
            try:
                with open(log, "rb") as f:
                    tail = f.read()[-3000:].decode(errors="replace")
                print("---- %s (tail) ----\n%s" % (log, tail), file=sys.stderr)
            except OSError:
                pass

    def events(self, **match):
        """Events from self.ug_log, filtered as select_events(**match)."""
        return select_events(read_events(self.ug_log), **match)

    def assertNoFileOver(self, root, limit):
        big = {p: s for p, s in tree_files(root).items() if s > limit}
        self.assertEqual(big, {}, "files over %d bytes under %s" % (limit, root))


# ---- nginx ---------------------------------------------------------------------

NGINX_TEMPLATE = """\
# generated by tests/servers/common.py
%(user)s
worker_processes %(workers)d;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx-error.log info;
events { worker_connections 256; }
http {
    access_log %(tmp)s/nginx-access.log;
    default_type application/octet-stream;
    client_body_temp_path %(body_temp)s;
    proxy_temp_path %(tmp)s/nginx-proxy-temp;
    fastcgi_temp_path %(tmp)s/nginx-fastcgi-temp;
    uwsgi_temp_path %(tmp)s/nginx-uwsgi-temp;
    scgi_temp_path %(tmp)s/nginx-scgi-temp;
    server {
        listen 127.0.0.1:%(port)d;
        server_name localhost;
%(server)s
    }
}
"""


def nginx_config(tmp, port, server, workers=2, body_temp=None):
    """nginx.conf text for a foreground test nginx: every path (pid, logs,
    all temp dirs) under tmp, one server on 127.0.0.1:port whose body is the
    text server (location blocks).  body_temp: client_body_temp_path
    (default <tmp>/nginx-body-temp).  `user root;` only when running as
    root, so workers keep access to the root-owned temp dir."""
    return NGINX_TEMPLATE % {
        "user": "user root;" if os.geteuid() == 0 else "",
        "workers": workers, "tmp": tmp, "port": port,
        "body_temp": body_temp or os.path.join(tmp, "nginx-body-temp"),
        "server": server,
    }


def nginx_exe():
    return find_exe("nginx")


def nginx_has_module(name):
    """True when `nginx -V` lists --with-<name> (e.g. "http_dav_module")."""
    try:
        out = subprocess.run([nginx_exe(), "-V"], capture_output=True,
                             timeout=10).stderr.decode(errors="replace")
    except (OSError, TypeError, subprocess.SubprocessError):
        return False
    return ("--with-%s" % name) in out.split()


def start_nginx(test, server, workers=2, body_temp=None, name="nginx"):
    """Writes <tmp>/nginx.conf (see nginx_config) and starts
    `nginx -c <conf> -e <log> -g 'daemon off; master_process on;'` guarded,
    from a GuardedServerTest; waits for its port and for every worker to
    be up.  Returns (port, proc)."""
    port = free_port()
    conf = test.write_file("nginx.conf", nginx_config(test.tmp, port, server,
                                                      workers, body_temp))
    proc = test.spawn([nginx_exe() or "nginx", "-p", test.tmp + "/", "-c", conf,
                       "-e", os.path.join(test.tmp, "nginx-error.log"),
                       "-g", "daemon off; master_process on;"], name=name)
    wait_for_port(port, proc=proc)
    wait_until(lambda: len(children(proc.pid)) >= workers, 10,
               "%d nginx workers" % workers, proc)
    return port, proc


def children(pid):
    """Pids of pid's direct children (from /proc)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []
