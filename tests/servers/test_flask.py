#!/usr/bin/env python3
"""Flask (Debian's python3-flask) on its threaded development server, under
the guard with max_file = 1M and sessions bound from the `sid` cookie.

The app (this file run with --serve) stores request.files['f'].save() into
the root; /login sets a random sid cookie; two deliberately buggy routes let
one session write another's data: /notes/NAME appends to any upload without
checking whose it is, and /draft/NAME writes through a file object cached in
a module-level dict (a handle opened by whichever session came first).

Run: UG_LIB=$PWD/build/libuploadguard.so python3 tests/servers/test_flask.py
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# ---- the app (child process) -----------------------------------------------------


def serve(root, port):
    import errno
    import secrets

    from flask import Flask, jsonify, request

    app = Flask(__name__)
    drafts = {}  # BUG on purpose: file objects shared across requests

    def failed(e):
        code = {errno.EACCES: 403, errno.EFBIG: 413}.get(e.errno, 500)
        return jsonify(ok=False, errno=errno.errorcode.get(e.errno)), code

    @app.get("/ping")
    def ping():
        return "pong"

    @app.post("/login")
    def login():
        resp = jsonify(ok=True)
        resp.set_cookie("sid", secrets.token_hex(16), httponly=True)
        return resp

    @app.post("/upload")
    def upload():
        f = request.files["f"]
        name = os.path.basename(f.filename or "")
        if not name:
            return jsonify(ok=False), 400
        try:
            f.save(os.path.join(root, name))
        except OSError as e:
            return failed(e)
        return jsonify(ok=True, bytes=os.path.getsize(os.path.join(root, name)))

    @app.post("/notes/<name>")
    def notes(name):  # BUG on purpose: no check that the caller owns it
        try:
            with open(os.path.join(root, os.path.basename(name)), "ab") as f:
                f.write(request.get_data())
        except OSError as e:
            return failed(e)
        return jsonify(ok=True)

    @app.post("/draft/<name>")
    def draft(name):
        try:
            f = drafts.get(name)
            if f is None:
                f = drafts[name] = open(os.path.join(root, "draft-" + name),
                                        "ab", buffering=0)
            f.write(request.get_data())
        except OSError as e:
            return failed(e)
        return jsonify(ok=True)

    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--serve":
    serve(sys.argv[2], int(sys.argv[3]))
    sys.exit(0)

# ---- the tests -------------------------------------------------------------------

import common  # noqa: E402
import sesslib  # noqa: E402
from common import KiB, MiB, GuardedServerTest  # noqa: E402


def flask_python():
    """Debian's python3 with python3-flask first, else this interpreter if it
    has Flask; None when neither does."""
    for exe in ("/usr/bin/python3", sys.executable):
        if exe and os.access(exe, os.X_OK) and subprocess.call(
                [exe, "-c", "import flask"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL) == 0:
            return exe
    return None


class FlaskTest(GuardedServerTest):

    def setUp(self):
        super().setUp()
        self.python = flask_python()
        if not self.python:
            self.skipTest("no python3 with Flask")
        self.root = self.make_root("up")
        sesslib.write_config(self.ug_conf, {self.root: {"max_file": "1M"}},
                             self.ug_log, mode="deny", sources="cookie:sid",
                             cross="deny")
        self.port = common.free_port()
        self.proc = self.spawn([self.python, __file__, "--serve", self.root,
                                str(self.port)], name="flask")
        common.wait_for_port(self.port, timeout=20, proc=self.proc)

    def login(self):
        status, headers, _ = common.http_request(self.port, "POST", "/login")
        self.assertEqual(status, 200)
        m = re.search(r"sid=([0-9a-f]+)", headers.get("set-cookie", ""))
        self.assertTrue(m, headers)
        return m.group(1)

    def upload(self, sid, name, data):
        ctype, body = common.multipart(files={"f": (name, data)})
        hdrs = {"Content-Type": ctype}
        if sid:
            hdrs["Cookie"] = "sid=%s" % sid
        status, _, resp = common.http_request(self.port, "POST", "/upload",
                                              body, headers=hdrs)
        return status, resp

    def post(self, sid, path, data):
        status, _, resp = common.http_request(
            self.port, "POST", path, data, headers={"Cookie": "sid=%s" % sid})
        return status, resp

    def test_cap_holds_and_server_keeps_serving(self):
        sid = self.login()
        big = common.payload(3 * MiB, seed=7)
        status, resp = self.upload(sid, "big.bin", big)
        self.assertEqual(status, 413, resp)
        self.assertNoFileOver(self.root, MiB)
        evs = self.events(event="cap_exceeded", rule="max_file")
        self.assertGreaterEqual(len(evs), 1, common.brief(self.events()))
        self.assertEqual(evs[0]["path"],
                         os.path.join(os.path.realpath(self.root), "big.bin"))
        self.assertEqual(evs[0]["session"], sesslib.digest(sid))

        small = common.payload(10 * KiB, seed=8)
        status, resp = self.upload(sid, "small.bin", small)
        self.assertEqual(status, 200, resp)
        with open(os.path.join(self.root, "small.bin"), "rb") as f:
            self.assertEqual(f.read(), small)
        for _ in range(3):
            self.assertEqual(common.http_request(self.port, "GET", "/ping")[0],
                             200)
        self.assertEqual(self.events(event="cross_session"), [])

    def test_cross_session_write_caught(self):
        s1, s2 = self.login(), self.login()
        data = common.payload(50 * KiB, seed=9)
        self.assertEqual(self.upload(s1, "mine.bin", data)[0], 200)
        path = os.path.join(self.root, "mine.bin")
        self.assertEqual(sesslib.owner_xattr(path), sesslib.digest(s1))

        # the buggy /notes route, called by session 2 on session 1's upload
        status, resp = self.post(s2, "/notes/mine.bin", b"injected")
        self.assertEqual(status, 403, resp)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)
        # the owner itself may
        self.assertEqual(self.post(s1, "/notes/mine.bin", b"ok")[0], 200)

        # the shared handle: opened by session 1, reused for session 2
        self.assertEqual(self.post(s1, "/draft/d1", b"one;")[0], 200)
        status, resp = self.post(s2, "/draft/d1", b"two;")
        self.assertEqual(status, 403, resp)
        with open(os.path.join(self.root, "draft-d1"), "rb") as f:
            self.assertEqual(f.read(), b"one;")

        evs = self.events(event="cross_session")
        self.assertEqual(len(evs), 2, common.brief(self.events()))
        for ev in evs:
            self.assertEqual((ev["session"], ev["owner"], ev["verdict"]),
                             (sesslib.digest(s2), sesslib.digest(s1),
                              "denied"))
            self.assertEqual(ev["binding"], "cookie:sid")
        self.assertEqual(sorted(ev["op"] for ev in evs), ["open64", "write"])
        self.assertEqual(sesslib.raw_ids_in(self.ug_log, [s1, s2]), [])


if __name__ == "__main__":
    common.main()
