#!/usr/bin/env python3
"""PHP's built-in server (`php -S`, Debian's php-cli) under the guard.

Uploads into a root with max_file = 1M: multipart stored with
move_uploaded_file (a mkstemp file in upload_tmp_dir, outside the root,
renamed in), and a raw PUT written with fopen('php://input') +
fopen(dest, 'w') + fwrite (or stream_copy_to_stream).  3 MiB is refused with
nothing over 1 MiB left, 10 KiB passes, the server keeps serving.

PHP file sessions: session.save_path is a guarded root with
owner = path:sess_{session}; [session] from = php, cookie:PHPSESSID.  A
deliberately buggy script (evil.php) run by one session writes another
session's sess_ file and another session's upload: both caught.

Run: UG_LIB=$PWD/build/libuploadguard.so python3 tests/servers/test_php.py
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import sesslib  # noqa: E402
from common import KiB, MiB, GuardedServerTest  # noqa: E402

SCRIPTS = {
    "ping.php": "<?php echo 'pong';\n",
    "lib.php": r"""<?php
require __DIR__ . '/conf.php';
function done($code, $what) {
    http_response_code($code);
    header('Content-Type: application/json');
    echo json_encode($what);
    exit;
}
// 403 for a refused cross-session write, 413 for a cap, 500 otherwise
function failed($bytes = null) {
    $msg = error_get_last()['message'] ?? '';
    $code = str_contains($msg, 'Permission denied') ? 403 :
        (str_contains($msg, 'too large') ? 413 : 500);
    done($code, ['ok' => false, 'error' => $msg, 'bytes' => $bytes]);
}
""",
    "upload.php": r"""<?php
require __DIR__ . '/lib.php';
session_start();
$f = $_FILES['f'] ?? null;
if (!$f || $f['error'] !== UPLOAD_ERR_OK)
    done(400, ['ok' => false, 'upload_error' => $f['error'] ?? null]);
$dest = ROOT . '/' . basename($f['name']);
// move_uploaded_file's message names no errno: a file left shorter than
// the upload was cut by a cap, anything else was refused
if (!@move_uploaded_file($f['tmp_name'], $dest)) {
    clearstatcache();
    $cut = file_exists($dest) && filesize($dest) < $f['size'];
    done($cut ? 413 : 403, ['ok' => false, 'error' => error_get_last()]);
}
done(200, ['ok' => true, 'bytes' => filesize($dest)]);
""",
    "put.php": r"""<?php
require __DIR__ . '/lib.php';
$in = fopen('php://input', 'rb');
$out = @fopen(ROOT . '/' . basename($_GET['name']), 'w');
if (!$out)
    failed();
$want = (int)($_SERVER['CONTENT_LENGTH'] ?? 0);
if (($_GET['how'] ?? '') === 'copy') {
    $n = @stream_copy_to_stream($in, $out);
} else {
    $n = 0;
    while (!feof($in) && ($buf = fread($in, 8192)) !== '') {
        $w = @fwrite($out, $buf);
        if ($w === false || $w < strlen($buf)) { $n += (int)$w; break; }
        $n += $w;
    }
}
@fclose($out);
if ($n === false || $n < $want)
    failed($n);
done(200, ['ok' => true, 'bytes' => $n]);
""",
    "login.php": r"""<?php
require __DIR__ . '/lib.php';
session_start();
$_SESSION['user'] = $_GET['user'];
done(200, ['ok' => true]);
""",
    "whoami.php": r"""<?php
require __DIR__ . '/lib.php';
session_start();
done(200, ['user' => $_SESSION['user'] ?? null]);
""",
    # BUG on purpose: lets the caller's session write another session's
    # data (its session file, or any upload) by name.
    "evil.php": r"""<?php
require __DIR__ . '/lib.php';
session_start();
if (isset($_GET['victim'])) {
    $ok = @file_put_contents(SESS . '/sess_' . basename($_GET['victim']),
                             'user|s:5:"admin";');
} else {
    $f = @fopen(ROOT . '/' . basename($_GET['upload']), 'a');
    $ok = $f && @fwrite($f, 'defaced') !== false;
}
if ($ok === false)
    failed();
done(200, ['ok' => true]);
""",
}


class PhpTest(GuardedServerTest):

    def setUp(self):
        super().setUp()
        php = common.require_exe("php", reason="php-cli not installed")
        self.root = self.make_root("up")
        self.sess = self.make_root("sessions")
        docroot = self.make_dir("docroot")
        phptmp = self.make_dir("phptmp")  # upload_tmp_dir: outside the root
        for name, text in SCRIPTS.items():
            with open(os.path.join(docroot, name), "w") as f:
                f.write(text)
        with open(os.path.join(docroot, "conf.php"), "w") as f:
            f.write("<?php const ROOT = %r; const SESS = %r;\n"
                    % (self.root, self.sess))
        sesslib.write_config(
            self.ug_conf,
            {self.root: {"max_file": "1M"},
             self.sess: {"owner": "path:sess_{session}"}},
            self.ug_log, mode="deny", sources="php, cookie:PHPSESSID",
            cross="deny")
        self.port = common.free_port()
        ini = {"upload_tmp_dir": phptmp, "sys_temp_dir": phptmp,
               "upload_max_filesize": "16M", "post_max_size": "32M",
               "session.save_handler": "files", "session.save_path": self.sess,
               "session.gc_probability": "0", "session.use_strict_mode": "0",
               "display_errors": "stderr", "opcache.enable_cli": "0"}
        argv = [php]
        for k, v in ini.items():
            argv += ["-d", "%s=%s" % (k, v)]
        argv += ["-S", "127.0.0.1:%d" % self.port, "-t", docroot]
        self.proc = self.spawn(argv, name="php")
        common.wait_for_port(self.port, proc=self.proc)

    def req(self, method, path, body=None, sid=None, headers=None):
        hdrs = dict(headers or {})
        if sid:
            hdrs["Cookie"] = "PHPSESSID=%s" % sid
        return common.http_request(self.port, method, path, body, headers=hdrs)

    def upload(self, name, data, sid=None):
        ctype, body = common.multipart(files={"f": (name, data)})
        status, _, resp = self.req("POST", "/upload.php", body, sid,
                                   {"Content-Type": ctype})
        return status, resp

    def assertServes(self):
        for _ in range(3):
            self.assertEqual(self.req("GET", "/ping.php")[2], b"pong")

    def test_multipart_move_uploaded_file(self):
        status, resp = self.upload("big.bin", common.payload(3 * MiB, 1))
        self.assertEqual(status, 413, resp)
        # the rename is refused whole; PHP then falls back to a copy
        # (copy_file_range, then write), which the cap cuts at 1 MiB: PHP
        # leaves that partial file behind, never more
        self.assertNoFileOver(self.root, MiB)
        evs = self.events(event="cap_exceeded", rule="max_file")
        self.assertGreaterEqual(len(evs), 1, common.brief(self.events()))
        self.assertIn(evs[0]["op"], ("rename", "renameat", "renameat2"))
        self.assertEqual(evs[0]["errno"], "EFBIG")

        small = common.payload(10 * KiB, 2)
        status, resp = self.upload("small.bin", small)
        self.assertEqual(status, 200, resp)
        with open(os.path.join(self.root, "small.bin"), "rb") as f:
            self.assertEqual(f.read(), small)
        self.assertServes()

    def check_raw_put(self, how):
        status, _, resp = self.req("PUT", "/put.php?how=%s&name=big-%s.bin"
                                   % (how, how), common.payload(3 * MiB, 3))
        self.assertEqual(status, 413, resp)
        self.assertNoFileOver(self.root, MiB)
        evs = self.events(event="cap_exceeded", rule="max_file",
                          path=lambda p: p.endswith("big-%s.bin" % how))
        self.assertGreaterEqual(len(evs), 1, common.brief(self.events()))

        small = common.payload(10 * KiB, 4)
        status, _, resp = self.req("PUT", "/put.php?how=%s&name=s-%s.bin"
                                   % (how, how), small)
        self.assertEqual(status, 200, resp)
        with open(os.path.join(self.root, "s-%s.bin" % how), "rb") as f:
            self.assertEqual(f.read(), small)
        self.assertServes()

    def test_raw_put_fwrite(self):
        self.check_raw_put("fwrite")

    def test_raw_put_stream_copy(self):
        self.check_raw_put("copy")

    def login(self, user):
        status, headers, resp = self.req("GET", "/login.php?user=" + user)
        self.assertEqual(status, 200, resp)
        m = re.search(r"PHPSESSID=([A-Za-z0-9,-]+)", headers.get("set-cookie",
                                                                   ""))
        self.assertTrue(m, headers)
        return m.group(1)

    def test_file_sessions_cross_write_caught(self):
        alice, bob = self.login("alice"), self.login("bob")
        sess_a = os.path.join(self.sess, "sess_" + alice)
        with open(sess_a, "rb") as f:
            before = f.read()
        self.assertIn(b"alice", before)
        # alice's own upload (raw PUT: bound from her cookie) and multipart
        # (bound by her session lock, renamed in)
        self.assertEqual(self.req("PUT", "/put.php?name=alice.txt", b"hers",
                                  sid=alice)[0], 200)
        self.assertEqual(self.upload("alice2.txt", b"hers too", alice)[0], 200)
        for name in ("alice.txt", "alice2.txt"):
            self.assertEqual(sesslib.owner_xattr(os.path.join(self.root, name)),
                             sesslib.digest(alice, sesslib.SALT))
        # bob's request runs the buggy script against alice's data
        for q in ("victim=" + alice, "upload=alice.txt", "upload=alice2.txt"):
            status, _, resp = self.req("GET", "/evil.php?" + q, sid=bob)
            self.assertEqual(status, 403, (q, resp))
        with open(sess_a, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(self.req("GET", "/whoami.php", sid=alice)[2],
                         b'{"user":"alice"}')
        with open(os.path.join(self.root, "alice.txt"), "rb") as f:
            self.assertEqual(f.read(), b"hers")

        evs = self.events(event="cross_session")
        self.assertEqual(len(evs), 3, common.brief(self.events()))
        for ev in evs:
            self.assertEqual((ev["session"], ev["owner"], ev["verdict"]),
                             (sesslib.digest(bob), sesslib.digest(alice),
                              "denied"))
            self.assertEqual(ev["binding"], "php")
        # correct traffic (logins, whoami, own uploads) raised nothing else
        self.assertEqual(len(self.events()), 3, common.brief(self.events()))
        self.assertEqual(sesslib.raw_ids_in(self.ug_log, [alice, bob]), [])


if __name__ == "__main__":
    common.main()
