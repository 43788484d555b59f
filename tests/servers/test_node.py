#!/usr/bin/env python3
"""Node.js + express + multer (DiskStorage) under the guard, max_file = 1M.

tests/servers/node/app.js stores the multipart field "f" as ROOT/<name>.
libuv writes each upload with open64 + write on its thread pool and closes
with syscall(SYS_close) on some paths; the same fd number comes back for the
next upload, so several uploads run in a row (big, small, big, small ...):
none may inherit the previous one's state.

io_uring: with UV_USE_IO_URING=1 libuv may route file I/O through io_uring,
where no libc hook sees it.  With [guard] io_uring = block the cap still
holds; without it the test checks what the README says (the cap does not
hold: the bytes reach the disk unseen), skipping that part only when the
kernel has no io_uring.

npm packages (express, multer) are installed with `npm install` into
tests/servers/node/node_modules (git-ignored) when missing.

Run: UG_LIB=$PWD/build/libuploadguard.so python3 tests/servers/test_node.py
"""

import ctypes
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import KiB, MiB, GuardedServerTest  # noqa: E402

APP_DIR = os.path.join(HERE, "node")
NPM_TIMEOUT = 240


def ensure_packages():
    """Installs express and multer into node/node_modules once; skips the
    test when node or npm is missing or the install fails."""
    node = common.require_exe("node", reason="node not installed")
    mods = os.path.join(APP_DIR, "node_modules")
    if all(os.path.isfile(os.path.join(mods, m, "package.json"))
           for m in ("express", "multer")):
        return node
    npm = common.require_exe("npm", reason="npm not installed")
    try:
        r = subprocess.run([npm, "install", "--no-audit", "--no-fund",
                            "--loglevel=error"], cwd=APP_DIR,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=NPM_TIMEOUT, env=dict(os.environ,
                                                         LD_PRELOAD=""))
    except subprocess.TimeoutExpired:
        common.skip("npm install timed out after %ds" % NPM_TIMEOUT)
    if r.returncode != 0:
        common.skip("npm install express multer failed: %s"
                    % r.stdout.decode(errors="replace")[-300:])
    return node


def io_uring_available():
    """True when io_uring_setup works in this process (kernel support,
    not disabled by sysctl or a seccomp filter)."""
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)  # struct io_uring_params
    fd = libc.syscall(425, 2, params)  # __NR_io_uring_setup (x86_64, arm64)
    if fd >= 0:
        os.close(fd)
        return True
    return False


class NodeTest(GuardedServerTest):

    def start(self, io_uring=None, uring_env=False):
        self.node = ensure_packages()
        self.root = self.make_root("up")
        guard = {"io_uring": io_uring} if io_uring else None
        self.write_ug_config({self.root: {"max_file": "1M"}}, mode="deny",
                             extra_guard=guard)
        self.port = common.free_port()
        extra = {"UV_USE_IO_URING": "1"} if uring_env else {"UV_USE_IO_URING": "0"}
        self.proc = self.spawn([self.node, os.path.join(APP_DIR, "app.js"),
                                self.root, str(self.port)], name="node",
                               extra_env=extra)
        common.wait_for_port(self.port, timeout=20, proc=self.proc)

    def upload(self, name, data):
        ctype, body = common.multipart(files={"f": (name, data)})
        status, _, resp = common.http_request(
            self.port, "POST", "/upload", body,
            headers={"Content-Type": ctype})
        return status, resp

    def size(self, name):
        try:
            return os.path.getsize(os.path.join(self.root, name))
        except FileNotFoundError:
            return None

    def check_cap_holds(self, rounds=3):
        """Big and small uploads alternately: big ones refused (413) and
        left at most 1 MiB (multer may remove the partial file), small ones
        stored byte for byte; the server answers between them."""
        for i in range(rounds):
            status, resp = self.upload("big%d.bin" % i,
                                       common.payload(3 * MiB, 10 + i))
            self.assertEqual(status, 413, resp)
            self.assertNoFileOver(self.root, MiB)
            self.assertIn(self.size("big%d.bin" % i), (None, MiB))
            small = common.payload(10 * KiB, 20 + i)
            status, resp = self.upload("small%d.bin" % i, small)
            self.assertEqual(status, 200, resp)
            with open(os.path.join(self.root, "small%d.bin" % i), "rb") as f:
                self.assertEqual(f.read(), small)
            self.assertEqual(common.http_request(self.port, "GET", "/ping")[2],
                             b"pong")
        # the same name again after its cap: O_TRUNC starts it afresh
        small = common.payload(10 * KiB, 99)
        self.assertEqual(self.upload("big0.bin", small)[0], 200)
        self.assertEqual(self.size("big0.bin"), 10 * KiB)
        evs = self.events(event="cap_exceeded", rule="max_file")
        self.assertGreaterEqual(len(evs), rounds, common.brief(self.events()))
        big_paths = {e["path"] for e in evs}
        self.assertFalse(any("small" in p for p in big_paths), big_paths)

    def test_cap_holds_thread_pool(self):
        self.start()
        self.check_cap_holds()

    def test_cap_holds_io_uring_blocked(self):
        self.start(io_uring="block", uring_env=True)
        self.check_cap_holds()

    def test_io_uring_unblocked_is_not_guarded(self):
        """What the README says: with io_uring allowed and libuv told to use
        it, file writes bypass every libc hook, so the cap does not hold."""
        if not io_uring_available():
            self.skipTest("io_uring_setup is unavailable on this kernel")
        self.start(io_uring=None, uring_env=True)
        status, resp = self.upload("big.bin", common.payload(3 * MiB, 30))
        size = self.size("big.bin")
        print("io_uring allowed: 3 MiB upload -> HTTP %d, %s bytes on disk, "
              "%d events" % (status, size, len(self.events())))
        # README, Limits: "Without `block`, writes through io_uring are not
        # capped": the upload is stored whole and nothing saw it
        self.assertEqual((status, size), (200, 3 * MiB), resp)
        self.assertEqual(self.events(rule="max_file"), [])

if __name__ == "__main__":
    common.main()
