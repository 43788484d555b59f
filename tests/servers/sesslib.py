#!/usr/bin/env python3
"""Session helpers for the server tests (beside common.py), and a small
session-aware upload server used by test_sessions.py and tools/demo.

As a program: `python3 sesslib.py serve ROOT PORT` runs the upload server
(http.server.ThreadingHTTPServer, HTTP/1.1 keep-alive) in the foreground:
  PUT  /files/NAME    stores the body as ROOT/NAME (open 'wb' + 64 KiB writes)
  POST /append/NAME   appends the body to ROOT/NAME (open 'ab')
  GET  /files/NAME    returns ROOT/NAME
  GET  /whoami        the session the shim bound the serving thread to (the
                      raw id, through ug_session_current(), or "-")
A write's OSError becomes 403 (EACCES: a cross-session write refused),
413 (EFBIG), 507 (EDQUOT) or 500, with a JSON body {"ok", "errno", "bytes"}.
It never looks at the cookie itself: the binding is the shim's business.

Python 3 stdlib only.
"""

import ctypes
import errno
import hashlib
import hmac
import http.server
import json
import os
import socket
import sys
import time

SALT = "test-salt"
CHUNK = 64 * 1024

# ---- config and digests --------------------------------------------------------


def digest(sid, salt=SALT):
    """What the log holds for a session id: HMAC-SHA256(salt, id), first 16
    hex characters (shim/digest.c)."""
    return hmac.new(salt.encode(), sid.encode(), hashlib.sha256).hexdigest()[:16]


def write_config(path, roots, log, mode="deny", sources="cookie:sid",
                 cross="deny", salt=SALT, guard=None):
    """Writes an uploadguard config with a [session] section.
    roots: {abs root: {key: value}}; guard: extra [guard] keys."""
    lines = ["[guard]", "mode = %s" % mode, "log = %s" % log]
    lines += ["%s = %s" % kv for kv in (guard or {}).items()]
    lines += ["", "[session]", "from = %s" % sources, "cross = %s" % cross,
              "salt = %s" % salt]
    for root, keys in roots.items():
        lines += ["", "[upload %s]" % root]
        lines += ["%s = %s" % kv for kv in keys.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def raw_ids_in(log_path, ids):
    """The ids (str) that appear verbatim anywhere in the log file."""
    try:
        with open(log_path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return [i for i in ids if i.encode() in data]


def owner_xattr(path):
    """The owner digest the shim put on a file, or None."""
    try:
        return os.getxattr(path, "user.uploadguard.owner").decode()
    except OSError:
        return None


def cookie(sid, name="sid"):
    return {"Cookie": "theme=dark; %s=%s; lang=en" % (name, sid)}


# ---- a raw HTTP/1.1 client (split heads, pipelining) ---------------------------


class RawConn:
    """One TCP connection on which bytes are sent exactly as given (pieces,
    several requests at once) and responses read back in order."""

    def __init__(self, port, timeout=20.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data, pieces=1, pause=0.02):
        """Sends data in `pieces` roughly equal parts, pausing between them so
        the server reads them separately."""
        step = max(1, -(-len(data) // pieces))
        for i in range(0, len(data), step):
            self.sock.sendall(data[i:i + step])
            if pieces > 1:
                time.sleep(pause)

    def _fill(self):
        got = self.sock.recv(65536)
        if not got:
            raise ConnectionError("server closed the connection")
        self.buf += got

    def response(self):
        """Reads one response: (status, body bytes)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body

    def close(self):
        self.sock.close()


def request_bytes(method, path, sid=None, body=b"", extra=""):
    """The bytes of one HTTP/1.1 request (Content-Length framed)."""
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
    if sid is not None:
        head += "Cookie: theme=dark; sid=%s\r\n" % sid
    head += extra
    head += "Content-Length: %d\r\n\r\n" % len(body)
    return head.encode() + body


# ---- the server ------------------------------------------------------------------

_ERRNO_STATUS = {errno.EACCES: 403, errno.EFBIG: 413, errno.EDQUOT: 507}


def _current_session():
    """ug_session_current() from the preloaded shim, or None without it."""
    try:
        fn = ctypes.CDLL(None).ug_session_current
    except (AttributeError, OSError):
        return None
    fn.restype = ctypes.c_char_p
    v = fn()
    return v.decode() if v else None


class SessionUploadHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = None

    def log_message(self, fmt, *args):
        sys.stderr.write("sessapp: " + (fmt % args) + "\n")

    def reply(self, status, obj):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def target(self, prefix):
        name = self.path[len(prefix):]
        if not self.path.startswith(prefix) or not name or "/" in name or \
                name.startswith("."):
            return None
        return os.path.join(self.root, name)

    def drain(self, left):
        while left > 0:
            buf = self.rfile.read(min(CHUNK, left))
            if not buf:
                break
            left -= len(buf)

    def store(self, mode, path):
        left = int(self.headers.get("Content-Length", "0"))
        written, err = 0, None
        try:
            with open(path, mode) as f:
                while left > 0:
                    buf = self.rfile.read(min(CHUNK, left))
                    if not buf:
                        break
                    left -= len(buf)
                    written += f.write(buf)
        except OSError as e:
            err = e
        self.drain(left)
        if err is None:
            return self.reply(200, {"ok": True, "bytes": written})
        self.reply(_ERRNO_STATUS.get(err.errno, 500),
                   {"ok": False, "errno": errno.errorcode.get(err.errno, "?"),
                    "bytes": written})

    def do_PUT(self):
        path = self.target("/files/")
        if not path:
            return self.reply(404, {"ok": False})
        self.store("wb", path)

    def do_POST(self):
        path = self.target("/append/")
        if not path:
            return self.reply(404, {"ok": False})
        self.store("ab", path)

    def do_GET(self):
        if self.path == "/whoami":
            return self.reply(200, (_current_session() or "-").encode())
        path = self.target("/files/")
        try:
            with open(path or "", "rb") as f:
                data = f.read()
        except OSError:
            return self.reply(404, {"ok": False})
        self.reply(200, data)


def serve(root, port):
    SessionUploadHandler.root = root
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                          SessionUploadHandler)
    srv.daemon_threads = True
    sys.stderr.write("sessapp: serving %s on %d\n" % (root, port))
    srv.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: sesslib.py serve ROOT PORT")
