#!/usr/bin/env python3
"""A stdlib Python upload server (http.server.ThreadingHTTPServer) under the
guard, in a child process.

The server (this file run with --serve) stores the body of a PUT or POST to
/chunked/NAME with open(path, 'wb') + write() in 64 KiB chunks, and to
/single/NAME with one write() of the whole body; a write's OSError becomes
413 (EFBIG), 507 (EDQUOT) or 500, with {"ok": false, "errno": ...}.
GET /NAME returns the stored file.

Run: UG_LIB=$PWD/build/libuploadguard.so python3 tests/servers/test_pyupload.py
"""

import errno
import http.server
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import KiB, MiB, GuardedServerTest  # noqa: E402

CHUNK = 64 * KiB

# ---- the server (child process) ------------------------------------------------


class UploadHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store = None  # the upload directory, set by serve()

    def log_message(self, fmt, *args):  # to the server's log, unbuffered
        sys.stderr.write("pyupload: " + (fmt % args) + "\n")

    def reply(self, status, obj=None, data=None):
        data = json.dumps(obj).encode() if data is None else data
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def target(self):
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ("chunked", "single") or \
                not parts[1] or parts[1].startswith("."):
            return None, None
        return parts[0], os.path.join(self.store, parts[1])

    def store_body(self):
        how, path = self.target()
        if not path:
            return self.reply(404, {"ok": False})
        left = int(self.headers.get("Content-Length", "0"))
        written = 0
        err = None
        f = open(path, "wb")
        try:
            if how == "single":
                body, left = self.rfile.read(left), 0
                written += f.write(body)
            while left > 0:
                buf = self.rfile.read(min(CHUNK, left))
                if not buf:
                    break
                left -= len(buf)
                written += f.write(buf)
        except OSError as e:
            err = e
        finally:
            try:
                f.close()
            except OSError as e:  # a flush of what the buffer still held
                err = err or e
        while left > 0:  # drain what the client still sends
            buf = self.rfile.read(min(CHUNK, left))
            if not buf:
                break
            left -= len(buf)
        if err is None:
            return self.reply(201, {"ok": True, "written": written})
        code = {errno.EFBIG: 413, errno.EDQUOT: 507}.get(err.errno, 500)
        self.reply(code, {"ok": False, "errno": errno.errorcode.get(err.errno),
                          "written": written})

    do_PUT = do_POST = store_body

    def do_GET(self):
        path = os.path.join(self.store, self.path.strip("/"))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return self.reply(404, {"ok": False})
        self.reply(200, data=data)


def serve(store, port_file):
    UploadHandler.store = store
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), UploadHandler)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, port_file)
    srv.serve_forever()


# ---- the tests -----------------------------------------------------------------


class PyUploadTest(GuardedServerTest):

    def start(self, mode, caps=None):
        """A guarded root <tmp>/uploads and the server on it."""
        self.root = self.make_root("uploads")
        self.write_ug_config({self.root: caps or {"max_file": "1M"}}, mode=mode)
        port_file = self.path("port")
        proc = self.spawn([sys.executable, os.path.abspath(__file__), "--serve",
                           self.root, port_file], name="pyupload")
        common.wait_for_path(port_file, proc=proc)
        with open(port_file) as f:
            self.port = int(f.read())
        common.wait_for_port(self.port, proc=proc)

    def put(self, url, data):
        status, _, body = common.http_request(self.port, "PUT", url, data)
        return status, (json.loads(body) if body.startswith(b"{") else body)

    def assertServing(self, name, data):
        status, _, body = common.http_request(self.port, "GET", "/" + name)
        self.assertEqual(status, 200)
        self.assertEqual(body, data, "GET /%s returned other bytes" % name)

    def check_deny_big(self, how):
        data = common.payload(3 * MiB, seed=1)
        status, body = self.put("/%s/big.bin" % how, data)
        self.assertIn(status, (413, 507), body)
        self.assertEqual(body["errno"], "EFBIG")
        path = os.path.join(self.root, "big.bin")
        with open(path, "rb") as f:
            kept = f.read()
        self.assertEqual(len(kept), MiB, "deny must leave exactly max_file")
        self.assertEqual(kept, data[:MiB], "the allowed part is the prefix")
        evs = self.events(event="cap_exceeded", rule="max_file",
                          verdict="denied", path=path)
        self.assertTrue(evs, common.brief(self.events()))
        self.assertTrue(all(e["op"] == "write" for e in evs), common.brief(evs))
        self.assertIn("EFBIG", [e.get("errno") for e in evs], common.brief(evs))
        for e in evs:
            self.assertEqual(e["limit"], MiB)
            self.assertTrue(e.get("backtrace"), "event has no backtrace")
        # a small upload afterwards is stored untouched, nothing logged for it
        small = common.payload(10 * KiB, seed=2)
        status, body = self.put("/%s/small.bin" % how, small)
        self.assertEqual(status, 201, body)
        with open(os.path.join(self.root, "small.bin"), "rb") as f:
            self.assertEqual(f.read(), small)
        self.assertFalse(self.events(path=os.path.join(self.root, "small.bin")))
        self.assertServing("small.bin", small)
        self.assertServing("big.bin", data[:MiB])
        self.assertNoFileOver(self.root, MiB)

    def test_deny_chunked_writes(self):
        """64 KiB writes: the one crossing 1 MiB is cut short, the next
        fails EFBIG; the handler answers 413 and the server keeps going."""
        self.start("deny")
        self.check_deny_big("chunked")

    def test_deny_single_write(self):
        """One 3 MiB write(): short count of 1 MiB, then EFBIG."""
        self.start("deny")
        self.check_deny_big("single")

    def test_deny_post_then_more_uploads(self):
        """POST is stored the same way; after a refusal, several uploads of
        the same name and others go through."""
        self.start("deny")
        status, _, body = common.http_request(
            self.port, "POST", "/chunked/p.bin", common.payload(2 * MiB, 3))
        self.assertEqual(status, 413, body)
        for i in range(3):
            data = common.payload(MiB if i == 0 else 100 * KiB, seed=10 + i)
            status, body = self.put("/chunked/p.bin", data)
            self.assertEqual(status, 201, "upload %d: %s" % (i, body))
            self.assertServing("p.bin", data)

    def test_log_mode_passes_whole(self):
        """mode = log: the 3 MiB upload is stored whole and logged."""
        self.start("log")
        for how in ("chunked", "single"):
            data = common.payload(3 * MiB, seed=4)
            status, body = self.put("/%s/%s.bin" % (how, how), data)
            self.assertEqual(status, 201, body)
            path = os.path.join(self.root, how + ".bin")
            with open(path, "rb") as f:
                self.assertEqual(f.read(), data, "log mode must not cut")
            evs = self.events(event="cap_exceeded", rule="max_file", path=path)
            self.assertTrue(evs, common.brief(self.events()))
            self.assertEqual({e["verdict"] for e in evs}, {"logged"},
                             common.brief(evs))
            self.assertEqual({e["op"] for e in evs}, {"write"})
            self.assertTrue(all(e.get("errno") is None for e in evs))
        self.assertServing("single.bin", data)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], sys.argv[3])
    else:
        common.main()
