#!/usr/bin/env python3
"""Cross-session writes on a real threaded server, bound from a cookie.

The server is sesslib.py's stdlib upload app (ThreadingHTTPServer, HTTP/1.1
keep-alive) run under the shim with [session] from = cookie:sid: the app
never reads the cookie, the shim binds each serving thread from the request
head it reads.  Two clients with different sid cookies; client 2 writes
client 1's file: caught in log mode, refused in deny mode with the victim's
file unchanged byte for byte.  Correct traffic (8 sessions, 1,000+ requests
on keep-alive and fresh connections) gives no event at all.  Split heads,
pipelined requests and connections reused by other sessions bind right.

Run: UG_LIB=$PWD/build/libuploadguard.so python3 tests/servers/test_sessions.py
"""

import http.client
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import sesslib  # noqa: E402
from common import KiB, GuardedServerTest  # noqa: E402
from sesslib import RawConn, cookie, digest, request_bytes  # noqa: E402

S1 = "u1-SECRET-6a2f9c0d1e"
S2 = "u2-SECRET-b7e4418f3a"
LOAD_SESSIONS = ["load%d-SECRET-%08x" % (i, 0x5eed0000 + i) for i in range(8)]
ALL_IDS = [S1, S2] + LOAD_SESSIONS


class SessionServerTest(GuardedServerTest):

    def start(self, cross="deny"):
        self.root = self.make_root("up")
        sesslib.write_config(self.ug_conf, {self.root: {"max_file": "1M"}},
                             self.ug_log, mode="deny", sources="cookie:sid",
                             cross=cross)
        self.port = common.free_port()
        self.proc = self.spawn([sys.executable, sesslib.__file__, "serve",
                                self.root, str(self.port)], name="sessapp")
        common.wait_for_port(self.port, proc=self.proc)

    def put(self, sid, name, body, method="PUT"):
        prefix = "/append/" if method == "POST" else "/files/"
        status, _, data = common.http_request(
            self.port, method, prefix + name, body,
            headers=cookie(sid) if sid else {})
        return status, data

    def cross_events(self):
        return self.events(event="cross_session")

    def assertNoRawIds(self):
        self.assertEqual(sesslib.raw_ids_in(self.ug_log, ALL_IDS), [],
                         "raw session ids in the log")

    def victim(self):
        """Client 1 stores its file; returns (path, bytes)."""
        body = common.payload(20 * KiB, seed=1)
        self.assertEqual(self.put(S1, "victim.bin", body)[0], 200)
        path = os.path.join(self.root, "victim.bin")
        self.assertEqual(sesslib.owner_xattr(path), digest(S1))
        return path, body

    # ---- two clients, one file --------------------------------------------

    def test_cross_write_logged_in_log_mode(self):
        self.start(cross="log")
        path, _ = self.victim()
        evil = common.payload(5 * KiB, seed=2)
        status, _ = self.put(S2, "victim.bin", evil)
        self.assertEqual(status, 200)  # log mode lets it through
        with open(path, "rb") as f:
            self.assertEqual(f.read(), evil)
        evs = self.cross_events()
        self.assertGreaterEqual(len(evs), 1, common.brief(self.events()))
        ev = evs[0]
        self.assertEqual(ev["verdict"], "logged")
        self.assertEqual(ev["session"], digest(S2))
        self.assertEqual(ev["owner"], digest(S1))
        self.assertEqual(ev["binding"], "cookie:sid")
        self.assertEqual(ev["path"], os.path.realpath(path))
        self.assertNoRawIds()

    def test_cross_write_refused_in_deny_mode(self):
        self.start(cross="deny")
        path, body = self.victim()
        status, data = self.put(S2, "victim.bin", common.payload(5 * KiB, 3))
        self.assertEqual(status, 403, data)
        status, data = self.put(S2, "victim.bin", b"appended", method="POST")
        self.assertEqual(status, 403, data)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), body, "the victim's file changed")
        evs = self.cross_events()
        self.assertEqual(len(evs), 2, common.brief(self.events()))
        for ev in evs:
            self.assertEqual(ev["verdict"], "denied")
            self.assertEqual(ev["errno"], "EACCES")
            self.assertEqual((ev["session"], ev["owner"]),
                             (digest(S2), digest(S1)))
        # the owner goes on writing its own file; a request without a
        # session is not a cross-session write either
        self.assertEqual(self.put(S1, "victim.bin", b"v2", "POST")[0], 200)
        self.assertEqual(self.put(None, "victim.bin", b"v3", "POST")[0], 200)
        self.assertEqual(len(self.cross_events()), 2)
        self.assertNoRawIds()

    # ---- correct traffic: no false alarm ----------------------------------

    def session_load(self, sid, n_keepalive, n_fresh):
        """One client's traffic on its own files only: new files, rewrites,
        appends, reads and /whoami (which must name this session)."""
        errors, done = [], 0
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

        def one(i, send):
            name = "%s-%d.bin" % (sid[:5], i % 16)
            kind = i % 4
            if kind == 0:
                return send("PUT", "/files/" + name, common.payload(
                    2 * KiB + i, seed=i))
            if kind == 1:
                return send("POST", "/append/" + name, b"x" * 100)
            if kind == 2:
                status, body = send("GET", "/whoami", None)
                return (status if body == sid.encode() else
                        "whoami=%r" % body), body
            return send("PUT", "/files/" + name, b"rewrite %d" % i)

        def keepalive(method, path, body):
            conn.request(method, path, body=body, headers=cookie(sid))
            resp = conn.getresponse()
            return resp.status, resp.read()

        def fresh(method, path, body):
            status, _, data = common.http_request(self.port, method, path,
                                                  body, headers=cookie(sid))
            return status, data

        for i in range(n_keepalive + n_fresh):
            status, body = one(i, keepalive if i < n_keepalive else fresh)
            done += 1
            if status != 200:
                errors.append((sid[:5], i, status, body[:80]))
        conn.close()
        return done, errors

    def test_no_false_alarm_8_sessions_1000_requests(self):
        self.start(cross="deny")
        t0 = time.monotonic()
        results = common.parallel(self.session_load,
                                  [(sid, 64, 64) for sid in LOAD_SESSIONS],
                                  timeout=120)
        secs = time.monotonic() - t0
        total = sum(r[0] for r in results)
        errors = [e for r in results for e in r[1]]
        print("load: %d requests from %d sessions in %.2fs (%.0f req/s)"
              % (total, len(LOAD_SESSIONS), secs, total / secs))
        self.assertGreaterEqual(total, 1000)
        self.assertEqual(errors, [])
        self.assertEqual(self.events(), [], common.brief(self.events()))
        # ownership was recorded: the silence is not for want of owners
        for sid in LOAD_SESSIONS:
            path = os.path.join(self.root, "%s-0.bin" % sid[:5])
            self.assertEqual(sesslib.owner_xattr(path), digest(sid))
        # and the guard is still awake: one cross write is refused
        self.assertEqual(self.put(LOAD_SESSIONS[1],
                                  "%s-0.bin" % LOAD_SESSIONS[0][:5], b"x")[0],
                         403)
        self.assertEqual(len(self.cross_events()), 1)
        self.assertNoRawIds()

    # ---- how heads arrive -----------------------------------------------------

    def test_split_heads_and_reused_connection(self):
        self.start(cross="deny")
        path, body = self.victim()
        c = RawConn(self.port)
        try:
            # a head split in 7 reads still binds before the handler runs
            c.send(request_bytes("GET", "/whoami", S2), pieces=7)
            self.assertEqual(c.response(), (200, S2.encode()))
            # the next request on the connection rebinds: no cookie, unbound
            c.send(request_bytes("GET", "/whoami"), pieces=3)
            self.assertEqual(c.response(), (200, b"-"))
            # a connection reused by another session (a proxy's upstream
            # keep-alive): S1 then S2 writing S1's file, head split
            c.send(request_bytes("POST", "/append/victim.bin", S1, b"+1"), 5)
            self.assertEqual(c.response()[0], 200)
            c.send(request_bytes("POST", "/append/victim.bin", S2, b"+2"), 5)
            self.assertEqual(c.response()[0], 403)
        finally:
            c.close()
        with open(path, "rb") as f:
            self.assertEqual(f.read(), body + b"+1")
        self.assertEqual(len(self.cross_events()), 1,
                         common.brief(self.events()))

    def test_pipelined_requests(self):
        self.start(cross="deny")
        path, body = self.victim()
        self.assertEqual(self.put(S2, "mine2.bin", b"two")[0], 200)
        c = RawConn(self.port)
        try:
            # one session, three requests in one send
            c.send(b"".join(request_bytes("POST", "/append/victim.bin", S1,
                                          b"p%d" % i) for i in range(3)))
            self.assertEqual([c.response()[0] for _ in range(3)], [200] * 3)
            # two sessions pipelined on one connection, each writing its own
            # file: the shim cannot tell which head is being served, so it
            # binds neither: no false alarm (and no check)
            c.send(request_bytes("POST", "/append/victim.bin", S1, b"q") +
                   request_bytes("POST", "/append/mine2.bin", S2, b"r"))
            self.assertEqual([c.response()[0] for _ in range(2)], [200, 200])
            # a large body between heads, sent in pieces: each head binds
            big = common.payload(200 * KiB, seed=4)
            # (when the last piece holds the body's end and the next head,
            # the server may still be writing: that head binds nobody)
            c.send(request_bytes("POST", "/append/victim.bin", S1, big) +
                   request_bytes("GET", "/whoami", S2), pieces=9)
            self.assertEqual(c.response()[0], 200)
            self.assertIn(c.response(), [(200, b"-"), (200, S2.encode())])
        finally:
            c.close()
        with open(path, "rb") as f:
            self.assertEqual(f.read(), body + b"p0p1p2q" + big)
        self.assertEqual(self.events(), [], common.brief(self.events()))
        self.assertNoRawIds()


if __name__ == "__main__":
    common.main()
