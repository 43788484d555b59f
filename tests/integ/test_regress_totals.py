"""Regression tests for two shared-total bugs found by the nginx test.

rescan_drops_inflight: a rescan of the subtree set the counter to the bytes
on disk plus the changes made during the scan, forgetting reservations of
calls already in flight, so concurrent renames passed max_total.
attach_race: a process opening the segment between its creator's O_EXCL
create and ftruncate saw an empty file and fell back to per-process totals.
stale_layout: a segment left by an older layout made every process fall
back to per-process totals until reboot; it is now replaced.
gc: `uploadguard totals --gc` removes the segments of roots that are gone.
"""
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

LIB = os.environ.get("UG_LIB")
CAP = 1048576

RENAMER = r'''
import os, sys, time
src, dst, t0 = sys.argv[1], sys.argv[2], float(sys.argv[3])
while time.time() < t0:
    pass
try:
    os.rename(src, dst)
except OSError:
    pass
'''


def segment(root):
    st = os.stat(root)
    key = root.encode() + struct.pack("<QQ", st.st_dev, st.st_ino)
    return "/dev/shm/uploadguard-" + hashlib.sha256(key).hexdigest()[:20]


class SharedTotals(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ugregress-")
        self.root = os.path.join(self.dir, "root")
        os.mkdir(self.root)
        self.conf = os.path.join(self.dir, "ug.conf")
        with open(self.conf, "w") as f:
            f.write("[guard]\nmode = deny\nlog = %s/ev.jsonl\n"
                    "[upload %s]\nmax_total = 1M\n" % (self.dir, self.root))
        self.env = dict(os.environ, LD_PRELOAD=LIB,
                        UPLOADGUARD_CONFIG=self.conf)

    def tearDown(self):
        try:
            os.unlink(segment(self.root))
        except OSError:
            pass
        shutil.rmtree(self.dir)

    def test_rescan_drops_inflight(self):
        n, size = 16, CAP // 10
        os.mkdir(self.dir + "/src")
        for i in range(n):
            with open("%s/src/f%d" % (self.dir, i), "wb") as f:
                f.write(b"x" * size)
        subprocess.run(["/bin/true"], env=self.env, check=True)
        # after the once-a-second boundary rescan is allowed again
        t0 = time.time() + 1.2
        procs = [subprocess.Popen(
            [sys.executable, "-c", RENAMER, "%s/src/f%d" % (self.dir, i),
             "%s/f%d" % (self.root, i), str(t0)], env=self.env)
            for i in range(n)]
        for p in procs:
            p.wait(timeout=30)
        total = sum(os.path.getsize(os.path.join(self.root, f))
                    for f in os.listdir(self.root))
        self.assertLessEqual(total, CAP)
        self.assertEqual(total, 10 * size)  # exactly what fits

    def test_attach_race(self):
        procs = [subprocess.Popen(["/bin/true"], env=self.env,
                                  stderr=subprocess.PIPE, text=True)
                 for _ in range(16)]
        errs = [p.communicate(timeout=30)[1] for p in procs]
        self.assertEqual([e for e in errs if "per process" in e], [])

    def test_stale_layout_replaced(self):
        seg = segment(self.root)
        with open(seg, "wb") as f:
            f.write(b"\x31\x54\x47\x55\x01\x00\x00\x00" + b"\0" * 56)
        os.chmod(seg, 0o600)
        r = subprocess.run(["/bin/true"], env=self.env, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        self.assertNotIn("per process", r.stderr)
        self.assertGreater(os.path.getsize(seg), 64)

    def test_gc_removes_only_dead_roots(self):
        tool = os.path.join(os.environ.get("UG_ROOT", "."), "tools",
                            "uploadguard")
        subprocess.run(["/bin/true"], env=self.env, check=True)
        live = segment(self.root)
        gone = os.path.join(self.dir, "gone")
        os.mkdir(gone)
        conf = dict(self.env, UPLOADGUARD_CONFIG_TEXT=(
            "[upload %s]\nmax_total = 1M\n" % gone))
        subprocess.run(["/bin/true"], env=conf, check=True)
        dead = segment(gone)
        os.rmdir(gone)
        subprocess.run([sys.executable, tool, "totals", "--gc"], check=True,
                       stdout=subprocess.DEVNULL)
        self.assertTrue(os.path.exists(live))
        self.assertFalse(os.path.exists(dead))


if __name__ == "__main__":
    if not LIB:
        print("SKIP: UG_LIB not set (run through make test)")
        sys.exit(77)
    # each test is a race: run it several times
    suite = unittest.TestSuite()
    for _ in range(4):
        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(
            SharedTotals))
    ok = unittest.TextTestRunner(verbosity=1).run(suite).wasSuccessful()
    sys.exit(0 if ok else 1)
