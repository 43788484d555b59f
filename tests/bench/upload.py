#!/usr/bin/env python3
"""End-to-end case of `make bench`: a stdlib ThreadingHTTPServer upload
server (a subprocess, preloaded with the guard when BENCH_SERVER_PRELOAD is
set) receives N PUTs of SIZE bytes from CONC keep-alive client threads, each
with its own session cookie and its own files.  Prints "rps <requests/s>".

usage: upload.py ROOT N CONC SIZE
"""
import http.client
import os
import subprocess
import sys
import threading
import time

SERVER = r'''
import os, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

root = sys.argv[1]

class Upload(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_PUT(self):
        left = int(self.headers["Content-Length"])
        name = os.path.basename(self.path)
        with open(os.path.join(root, name), "wb") as f:
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                f.write(chunk)
                left -= len(chunk)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), Upload)
srv.daemon_threads = True
print(srv.server_address[1], flush=True)
srv.serve_forever()
'''


def main():
    root, n, conc, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(root, exist_ok=True)
    envp = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    if os.environ.get("BENCH_SERVER_PRELOAD"):
        envp["LD_PRELOAD"] = os.environ["BENCH_SERVER_PRELOAD"]
    srv = subprocess.Popen([sys.executable, "-c", SERVER, root], env=envp,
                           stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline())
        body = b"u" * size
        per = n // conc
        errors = []
        start = threading.Barrier(conc + 1)

        def client(t):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                hdr = {"Cookie": "theme=dark; sid=%016x; lang=en" % (0x5e55100 + t),
                       "Content-Type": "application/octet-stream"}
                c.connect()
                start.wait()
                for i in range(per):
                    c.request("PUT", "/c%d-%d" % (t, i % 4), body=body, headers=hdr)
                    r = c.getresponse()
                    r.read()
                    if r.status != 201:
                        errors.append(r.status)
                        return
                c.close()
            except Exception as e:  # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(t,)) for t in range(conc)]
        for th in threads:
            th.start()
        start.wait()
        t0 = time.monotonic()
        for th in threads:
            th.join()
        secs = time.monotonic() - t0
        if errors:
            print("errors: %s" % errors[:3], file=sys.stderr)
            return 1
        print("rps %.1f" % (per * conc / secs))
        return 0
    finally:
        srv.kill()
        srv.wait()


if __name__ == "__main__":
    sys.exit(main())
