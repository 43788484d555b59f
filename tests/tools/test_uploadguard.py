#!/usr/bin/env python3
"""Tests for tools/uploadguard (stdlib unittest only).

Run: python3 tests/tools/test_uploadguard.py
"""

import gzip
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, "tools", "uploadguard")
LIBM = next((p for p in ("/lib/x86_64-linux-gnu/libm.so.6",
                         "/usr/lib/x86_64-linux-gnu/libm.so.6",
                         "/lib64/libm.so.6", "/usr/lib64/libm.so.6",
                         "/lib/aarch64-linux-gnu/libm.so.6")
             if os.path.isfile(p)), None)


def load_tool():
    """Imports tools/uploadguard (no .py suffix) as a module."""
    loader = importlib.machinery.SourceFileLoader("uploadguard_tool", TOOL)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


ug = load_tool()


def run_tool(*args, env=None, input=None, cwd=None):
    """Runs the tool; returns CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ)
    for key in list(full_env):
        if key.startswith("UPLOADGUARD_") or key == "LD_PRELOAD":
            del full_env[key]
    full_env.update(env or {})
    return subprocess.run([sys.executable, TOOL, *args], env=full_env,
                          input=input, capture_output=True, cwd=cwd)


def text(proc):
    return proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def jline(**fields):
    return (json.dumps(fields) + "\n").encode()


GUARD = "/usr/lib/uploadguard/libuploadguard.so"
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def stack_a(guard_off, libc_off):
    """The same application stack seen through different shim/libc frames."""
    return [
        {"ip": "0x7f0001", "module": GUARD, "offset": guard_off, "build_id": "aa"},
        {"ip": "0x7f0002", "module": LIBC, "offset": libc_off, "symbol": "__write+0x10"},
        {"ip": "0x5501", "module": "/usr/sbin/nginx", "offset": "0x1a2b3",
         "symbol": "ngx_http_dav_put_handler+0x54"},
        {"ip": "0x5502", "module": "/usr/sbin/nginx", "offset": "0x1000",
         "symbol": "main+0x10"},
    ]


# One log split over a current, a rotated and a gzip'd file.  Expected
# totals: 6 v1 records, 8 occurrences (one has repeat 2), 7 lost.
CURRENT = b"".join([
    jline(v=1, seq=1, time="2026-11-25T22:40:10.123456789Z", event="cap_exceeded",
          rule="max_file", verdict="denied", op="pwrite64", path="/srv/u/a",
          exe="/usr/sbin/nginx", session="s1", backtrace=stack_a("0x100", "0x200")),
    b"\n",                                   # blank
    b"this is not json\n",                   # garbage
    b"[1, 2, 3]\n",                          # JSON, not an object
    jline(v=2, event="cap_exceeded", rule="max_file", whatever={"x": 1}),
    b'{"v":1,"event":"file_closed","path":"/srv/u/\xff\xfe"}\n',  # bad UTF-8
    b'{"v":1,"seq":99,"event":"cap_',        # truncated last line
])
ROTATED = b"".join([
    jline(v=1, seq=2, time="2026-11-25T22:40:50Z", event="cap_exceeded",
          rule="max_file", verdict="denied", op="write", path="/srv/u/a",
          exe="/usr/sbin/nginx", session="s1", repeat=2,
          backtrace=stack_a("0x180", "0x240")),
    jline(v=1, seq=3, time="2026-11-25T22:41:05Z", event="cap_exceeded",
          rule="max_total", verdict="logged", op="write", path="/srv/u/b",
          exe="/usr/bin/php", session="s2", unknown_field=[1, 2],
          backtrace=[{"module": "/usr/bin/php", "offset": "0x100"}]),
])
GZIPPED = b"".join([
    jline(v=1, seq=4, time="2026-11-25T22:42:00Z", event="cross_session",
          rule=None, verdict="logged", path="/srv/u/a", session="s2",
          owner="s1", exe="/usr/bin/php"),
    jline(v=1, seq=5, time="2026-11-25T22:43:00+00:00", event="events_lost",
          lost=7),
])


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ugtest-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


class ReportTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.logs = [self.write("events.jsonl", CURRENT),
                     self.write("events.jsonl.1", ROTATED),
                     self.write("events.jsonl.2.gz", gzip.compress(GZIPPED))]

    def report_json(self, *args, input=None):
        proc = run_tool("report", "--json", *args, input=input)
        out, err = text(proc)
        self.assertEqual(proc.returncode, 0, err)
        return json.loads(out)

    def test_counts_json(self):
        r = self.report_json(*self.logs)
        self.assertEqual(r["records"], 6)
        self.assertEqual(r["occurrences"], 8)
        self.assertEqual(r["repeats"], 2)
        self.assertEqual(r["lost"], 7)
        self.assertEqual(r["by_event"], {"cap_exceeded": 5, "cross_session": 1,
                                         "events_lost": 1, "file_closed": 1})
        self.assertEqual(r["by_rule"], {"max_file": 4, "max_total": 1})
        self.assertEqual(r["by_verdict"], {"denied": 4, "logged": 2})
        self.assertEqual(r["sessions"], {"s1": 4, "s2": 2})
        self.assertEqual(r["cross_session"], {"s2 -> s1": 1})
        self.assertEqual(r["paths"]["/srv/u/a"], 5)
        self.assertEqual(r["paths"]["/srv/u/b"], 1)
        self.assertIn("/srv/u/\ufffd\ufffd", r["paths"])  # invalid UTF-8 kept
        self.assertEqual(r["exes"], {"/usr/sbin/nginx": 4, "/usr/bin/php": 2})
        self.assertEqual(r["skipped"], {"blank": 1, "truncated": 1, "not_json": 1,
                                        "not_object": 1, "bad_version": 0,
                                        "future_version": 1})
        self.assertEqual(r["lines"], 11)
        self.assertEqual(r["timeline"]["first"], "2026-11-25T22:40:10.123456789Z")
        self.assertEqual(r["timeline"]["last"], "2026-11-25T22:43:00+00:00")
        self.assertEqual(r["timeline"]["per_minute"],
                         {"2026-11-25T22:40Z": 4, "2026-11-25T22:41Z": 1,
                          "2026-11-25T22:42Z": 1, "2026-11-25T22:43Z": 1})
        rows = {row["key"]: row for row in r["group"]["rows"]}
        self.assertEqual(r["group"]["by"], "rule")
        self.assertEqual(rows["max_file"]["count"], 4)
        self.assertEqual(rows["max_file"]["verdicts"],
                         {"logged": 0, "denied": 4, "aborted": 0})
        self.assertEqual(rows["(events_lost)"]["count"], 1)

    def test_cross_session_table_counts_only_cross_session_events(self):
        # regression: a cap event carrying a session and an owner was
        # listed as a cross-session write
        log = self.write("x.jsonl",
                         jline(v=1, event="cap_exceeded", rule="max_file",
                               session="aaaa", owner="aaaa") +
                         jline(v=1, event="cross_session", session="bbbb",
                               owner="aaaa"))
        r = self.report_json(log)
        pairs = {k: v for k, v in r["cross_session"]} \
            if isinstance(r["cross_session"], list) else r["cross_session"]
        self.assertEqual(len(pairs), 1, pairs)
        self.assertIn("bbbb -> aaaa", pairs)

    def test_stacks_skip_guard_and_libc_frames(self):
        r = self.report_json(*self.logs)
        self.assertEqual(r["stacks"][0], {
            "frames": ["ngx_http_dav_put_handler+0x54", "main+0x10"], "count": 4})
        self.assertEqual(r["stacks"][1], {"frames": ["php+0x100"], "count": 1})
        self.assertEqual(r["no_backtrace"], 3)

    def test_by_stack_groups_same_symbolized_stack(self):
        r = self.report_json("--by", "stack", *self.logs)
        top = r["group"]["rows"][0]
        self.assertEqual(top["key"], ["ngx_http_dav_put_handler+0x54", "main+0x10"])
        self.assertEqual(top["count"], 4)
        self.assertEqual(top["first"], "2026-11-25T22:40:10.123456789Z")
        proc = run_tool("report", "--by", "stack", *self.logs)
        out, _ = text(proc)
        self.assertIn("By stack:", out)
        self.assertRegex(out, r"\n\s+4\s+0\s+4\s+0\s+2026-11-25T22:40:10\s+stack:\n"
                              r"\s+#0 ngx_http_dav_put_handler\+0x54\n\s+#1 main\+0x10")

    def test_text_output(self):
        proc = run_tool("report", *self.logs)
        out, err = text(proc)
        self.assertEqual(proc.returncode, 0, err)
        self.assertNotIn("Traceback", err)
        self.assertIn("events:        6 records, 8 occurrences "
                      "(2 added by repeat counts)", out)
        self.assertIn("lost events:   7", out)
        self.assertIn("1 not JSON", out)
        self.assertIn("1 truncated (last line cut off)", out)
        self.assertIn("newer schema", out)
        self.assertIn("first event:   2026-11-25T22:40:10.123456789Z", out)
        self.assertRegex(out, r"By rule:\n.*COUNT.*LOGGED.*DENIED.*ABORTED.*\n"
                              r"\s+4\s+0\s+4\s+0\s+2026-11-25T22:40:10\s+max_file")
        self.assertRegex(out, r"Top paths:\n\s+5\s+/srv/u/a")
        self.assertRegex(out, r"Top executables:\n\s+4\s+/usr/sbin/nginx")
        self.assertRegex(out, r"Sessions \(digests\):\n\s+4\s+s1\n\s+2\s+s2")
        self.assertRegex(out, r"2026-11-25T22:40Z\s+4\s+#+")

    def test_gzip_detected_by_content_and_stdin(self):
        odd_name = self.write("archive.bin", gzip.compress(ROTATED))
        r = self.report_json(odd_name)
        self.assertEqual(r["records"], 2)
        r = self.report_json("-", input=gzip.compress(GZIPPED))
        self.assertEqual(r["records"], 2)
        self.assertEqual(r["lost"], 7)
        r = self.report_json("-", input=ROTATED)
        self.assertEqual(r["occurrences"], 4)

    def test_damaged_gzip_is_reported_not_fatal(self):
        data = gzip.compress(ROTATED * 50)
        cut = self.write("cut.gz", data[:len(data) // 2])
        proc = run_tool("report", "--json", cut)
        out, err = text(proc)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(len(json.loads(out)["input_problems"]), 1)

    def test_since_absolute(self):
        r = self.report_json("--since", "2026-11-25T22:41:00Z", *self.logs)
        self.assertEqual(r["records"], 3)
        self.assertEqual(r["filtered"], {"before_since": 2, "no_time": 1})
        self.assertEqual(r["by_event"], {"cap_exceeded": 1, "cross_session": 1,
                                         "events_lost": 1})

    def test_since_relative(self):
        now = time.time()

        def stamp(age):
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - age))
        log = self.write("recent.jsonl", b"".join([
            jline(v=1, time=stamp(7200), event="cap_exceeded", rule="max_file"),
            jline(v=1, time=stamp(300), event="cap_exceeded", rule="max_total"),
            jline(v=1, time=stamp(60), event="cap_exceeded", rule="max_total")]))
        self.assertEqual(self.report_json("--since", "10m", log)["by_rule"],
                         {"max_total": 2})
        self.assertEqual(self.report_json("--since", "3h", log)["records"], 3)
        self.assertEqual(self.report_json("--since", "2m", log)["records"], 1)

    def test_bad_since_is_a_clean_error(self):
        proc = run_tool("report", "--since", "yesterday", self.logs[0])
        _, err = text(proc)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("uploadguard: error:", err)
        self.assertIn("invalid time 'yesterday'", err)
        self.assertNotIn("Traceback", err)

    def test_missing_file_is_a_clean_error(self):
        proc = run_tool("report", os.path.join(self.tmp, "nope.jsonl"))
        _, err = text(proc)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("uploadguard: error: cannot read", err)
        self.assertNotIn("Traceback", err)

    def test_hostile_field_types_do_not_crash(self):
        log = self.write("weird.jsonl", b"".join([
            jline(v=1, event=5, rule=["x"], verdict={}, repeat="3", lost=-4,
                  time=12, backtrace="nope", session=None, path=7),
            jline(v=1, backtrace=[1, "x", None, {"module": 3, "offset": {}}]),
            jline(v="1", event="cap_exceeded"),
            jline(v=True, event="cap_exceeded"),
            jline(time="2026-13-45T99:99:99Z", event="cap_exceeded"),
            b'{"v":1,"a":' + b"[" * 100000 + b"]" * 100000 + b"}\n",  # too deep
            b"\x00\x01\x02\xff\n", b"null\n", b"\"str\"\n", b"\r\n",
        ]))
        for by in ("rule", "session", "path", "exe", "stack"):
            proc = run_tool("report", "--by", by, log)
            out, err = text(proc)
            self.assertEqual(proc.returncode, 0, err)
            self.assertNotIn("Traceback", err)
        r = self.report_json(log)
        self.assertEqual(r["records"], 3)
        self.assertEqual(r["occurrences"], 3)
        self.assertEqual(r["lost"], 0)
        self.assertEqual(r["skipped"]["bad_version"], 2)
        self.assertEqual(r["skipped"]["not_object"], 2)
        self.assertEqual(r["skipped"]["not_json"], 2)
        self.assertEqual(r["skipped"]["blank"], 1)

    def test_symbolized_function_used_for_stack(self):
        log = self.write("sym.jsonl", jline(v=1, event="cap_exceeded", backtrace=[
            {"module": "/bin/x", "offset": "0x10",
             "symbolized": {"status": "ok", "function": "handle_put"}}]))
        self.assertEqual(self.report_json(log)["stacks"],
                         [{"frames": ["handle_put"], "count": 1}])


@unittest.skipUnless(shutil.which("cc") and shutil.which("nm"),
                     "needs a C compiler and nm")
@unittest.skipUnless(shutil.which("addr2line"), "needs addr2line (binutils)")
class SymbolizeTest(TempDirTest):
    SOURCE = textwrap.dedent("""\
        #include <stdio.h>

        __attribute__((noinline)) int ug_test_target(int x) {
        	return x * 3 + 1;
        }

        int main(int argc, char **argv)
        {
        	printf("%d\\n", ug_test_target(argc));
        	return 0;
        }
        """)

    def setUp(self):
        super().setUp()
        src = self.write("prog.c", self.SOURCE.encode())
        self.prog = os.path.join(self.tmp, "prog")
        subprocess.run(["cc", "-g", "-O0", "-Wl,--build-id", "-o", self.prog, src],
                       check=True)
        self.src = src
        self.line = self.SOURCE.splitlines().index(
            "__attribute__((noinline)) int ug_test_target(int x) {") + 1
        nm = subprocess.run(["nm", self.prog], capture_output=True, text=True,
                            check=True).stdout
        addr = re.search(r"^([0-9a-f]+) T ug_test_target$", nm, re.M).group(1)
        # frames hold return addresses: the byte after a call
        self.offset = hex(int(addr, 16) + 1)
        self.build_id = ug.read_elf(self.prog).build_id

    def log_for(self, module, build_id):
        frame = {"ip": "0x5555", "module": module, "offset": self.offset}
        if build_id is not None:
            frame["build_id"] = build_id
        return self.write("events.jsonl", b"".join([
            jline(v=1, time="2026-11-25T22:40:10Z", event="cap_exceeded",
                  rule="max_file", verdict="denied", op="write", path="/srv/u/a",
                  backtrace=[frame]),
            jline(v=1, event="file_closed", path="/srv/u/a"),
            b"garbage\n"]))

    def test_build_id_parser_matches_readelf(self):
        self.assertRegex(self.build_id or "", r"^[0-9a-f]{16,}$")
        if shutil.which("readelf"):
            out = subprocess.run(["readelf", "-n", self.prog], capture_output=True,
                                 text=True).stdout
            self.assertIn(f"Build ID: {self.build_id}", out)
        self.assertTrue(ug.read_elf(self.prog).has_interp)
        self.assertIsNone(ug.read_elf(self.src))

    def test_text_output(self):
        proc = run_tool("symbolize", self.log_for(self.prog, self.build_id))
        out, err = text(proc)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("2026-11-25T22:40:10Z cap_exceeded rule=max_file "
                      "verdict=denied op=write path=/srv/u/a", out)
        self.assertIn(f"#0 ug_test_target at {self.src}:{self.line} "
                      f"({self.prog}+{self.offset})", out)
        self.assertNotIn("file_closed", out)  # no backtrace: not printed
        self.assertIn("1 not JSON", err)

    def test_json_output(self):
        proc = run_tool("symbolize", "--json", self.log_for(self.prog, self.build_id))
        out, err = text(proc)
        self.assertEqual(proc.returncode, 0, err)
        events = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(events), 2)
        sym = events[0]["backtrace"][0]["symbolized"]
        self.assertEqual(sym["status"], "ok")
        self.assertEqual(sym["function"], "ug_test_target")
        self.assertEqual(sym["file"], self.src)
        self.assertEqual(sym["line"], self.line)

    def test_build_id_mismatch(self):
        proc = run_tool("symbolize", self.log_for(self.prog, "00" * 20))
        out, _ = text(proc)
        self.assertIn("build-id differs: binary changed since the event", out)
        self.assertNotIn("ug_test_target", out)

    def test_missing_module_and_missing_build_id(self):
        proc = run_tool("symbolize", self.log_for(self.prog + ".gone", "ab"))
        self.assertIn("module not found", text(proc)[0])
        proc = run_tool("symbolize", "--json", self.log_for(self.prog, None))
        sym = json.loads(text(proc)[0].splitlines()[0])["backtrace"][0]["symbolized"]
        self.assertEqual((sym["status"], sym["function"]), ("unverified", "ug_test_target"))

    def test_non_pie_executable(self):
        # The shim records ip - dli_fbase; for a non-PIE executable that is
        # the address minus the first segment's link address (0x400000).
        prog = os.path.join(self.tmp, "prog-nopie")
        if subprocess.run(["cc", "-g", "-O0", "-no-pie", "-Wl,--build-id", "-o",
                           prog, self.src], capture_output=True).returncode != 0:
            self.skipTest("compiler cannot link -no-pie")
        nm = subprocess.run(["nm", prog], capture_output=True, text=True).stdout
        addr = int(re.search(r"^([0-9a-f]+) T ug_test_target$", nm, re.M).group(1), 16)
        info = ug.read_elf(prog)
        self.assertGreater(info.map_start, 0)
        self.offset = hex(addr - info.map_start + 1)
        out, err = text(run_tool("symbolize", self.log_for(prog, info.build_id)))
        self.assertIn(f"#0 ug_test_target at {self.src}:{self.line} ", out, err)

    @unittest.skipUnless(shutil.which("objcopy"), "needs objcopy")
    def test_separate_debug_file(self):
        debug_root = os.path.join(self.tmp, "debug")
        bid = self.build_id
        debug_dir = os.path.join(debug_root, ".build-id", bid[:2])
        os.makedirs(debug_dir)
        subprocess.run(["objcopy", "--only-keep-debug", self.prog,
                        os.path.join(debug_dir, bid[2:] + ".debug")], check=True)
        subprocess.run(["objcopy", "--strip-debug", self.prog], check=True)
        self.assertEqual(ug.read_elf(self.prog).build_id, bid)
        proc = run_tool("symbolize", "--debug-root", debug_root,
                        self.log_for(self.prog, bid))
        out, err = text(proc)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn(f"#0 ug_test_target at {self.src}:{self.line} ", out)


@unittest.skipUnless(LIBM, "needs libm.so.6 as a stand-in preload library")
class RunTest(TempDirTest):
    SHOW_ENV = ("import json, os; print(json.dumps({k: v for k, v in os.environ.items()"
                " if k.startswith('UPLOADGUARD_') or k == 'LD_PRELOAD'}))")

    def run_env(self, *options, env=None, cwd=None):
        proc = run_tool("run", *options, "--", sys.executable, "-c", self.SHOW_ENV,
                        env={"UPLOADGUARD_LIB": LIBM, **(env or {})}, cwd=cwd)
        out, err = text(proc)
        self.assertEqual(proc.returncode, 0, err)
        return json.loads(out), err

    def test_config_text(self):
        upload = os.path.join(self.tmp, "up")
        os.mkdir(upload)
        env, err = self.run_env("--upload", "up", "--max-file", "1M",
                                "--max-total", "1G", "--max-files", "100",
                                "--mode", "deny", "--log", "x.jsonl", cwd=self.tmp)
        self.assertEqual(env["UPLOADGUARD_CONFIG_TEXT"], textwrap.dedent(f"""\
            [guard]
            mode = deny
            log = {self.tmp}/x.jsonl
            [upload {upload}]
            max_file = 1M
            max_total = 1G
            max_files = 100
            """))
        self.assertNotIn("UPLOADGUARD_CONFIG", env)
        self.assertNotIn("UPLOADGUARD_MODE", env)
        self.assertEqual(env["LD_PRELOAD"], LIBM)
        self.assertEqual(err, "")
        self.assertEqual(os.listdir(self.tmp), ["up"])  # no file written

    def test_config_file_and_env_overrides(self):
        self.write("guard.ini", b"[guard]\n")
        env, _ = self.run_env("-c", "guard.ini", "--mode", "abort", "--log", "stderr",
                              env={"UPLOADGUARD_CONFIG_TEXT": "stale"}, cwd=self.tmp)
        self.assertEqual(env["UPLOADGUARD_CONFIG"], os.path.join(self.tmp, "guard.ini"))
        self.assertEqual(env["UPLOADGUARD_MODE"], "abort")
        self.assertEqual(env["UPLOADGUARD_LOG"], "stderr")
        self.assertNotIn("UPLOADGUARD_CONFIG_TEXT", env)

    def test_preload_order_and_no_duplicate(self):
        env, _ = self.run_env(env={"LD_PRELOAD": f"{LIBM} {LIBM}"})
        self.assertEqual(env["LD_PRELOAD"], LIBM)
        other = os.path.join(self.tmp, "libother.so")
        shutil.copy(LIBM, other)
        env, _ = self.run_env(env={"LD_PRELOAD": f"{other} {LIBM}"})
        self.assertEqual(env["LD_PRELOAD"], f"{LIBM}:{other}")
        env, _ = self.run_env(env={"LD_PRELOAD": f"{other}:{LIBM}:{other}"})
        self.assertEqual(env["LD_PRELOAD"].split(":").count(LIBM), 1)
        self.assertTrue(env["LD_PRELOAD"].startswith(LIBM + ":"))

    def test_setuid_warning_still_runs(self):
        binary = os.path.join(self.tmp, "true-suid")
        shutil.copy(shutil.which("true"), binary)
        os.chmod(binary, 0o4755)
        proc = run_tool("run", "--", binary, env={"UPLOADGUARD_LIB": LIBM})
        _, err = text(proc)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn(f"uploadguard: warning: {binary} is set-uid: the dynamic "
                      "loader drops LD_PRELOAD, so it runs unguarded", err)

    def test_static_binary_warning(self):
        if not shutil.which("cc"):
            self.skipTest("needs a C compiler")
        src = self.write("s.c", b"int main(void) { return 0; }\n")
        binary = os.path.join(self.tmp, "static")
        if subprocess.run(["cc", "-static", "-o", binary, src],
                          capture_output=True).returncode != 0:
            self.skipTest("static libc (libc.a) not installed")
        proc = run_tool("run", "--", binary, env={"UPLOADGUARD_LIB": LIBM})
        self.assertIn(f"{binary} is statically linked", text(proc)[1])

    def test_bad_size_rejected(self):
        for bad in ("10X", "1.5M", "-1", "10MB", "99999999999T"):
            proc = run_tool("run", "--upload", self.tmp, "--max-file", bad, "--", "true",
                            env={"UPLOADGUARD_LIB": LIBM})
            _, err = text(proc)
            self.assertEqual(proc.returncode, 2, bad)
            self.assertIn("uploadguard: error:", err)
            self.assertIn("--max-file", err)
            self.assertNotIn("Traceback", err)

    def test_usage_errors(self):
        cases = [
            (["run", "--max-file", "1M", "--", "true"], "need --upload"),
            (["run", "-c", "/nonexistent.ini", "--", "true"], "no such config file"),
            (["run", "-c", "x", "--upload", "y", "--", "true"], "cannot be combined"),
            (["run", "--mode", "log"], "no command given"),
        ]
        for argv, message in cases:
            proc = run_tool(*argv, env={"UPLOADGUARD_LIB": LIBM})
            _, err = text(proc)
            self.assertEqual(proc.returncode, 2, argv)
            self.assertIn(message, err)
            self.assertNotIn("Traceback", err)
        proc = run_tool("run", "--", "true", env={"UPLOADGUARD_LIB": "/nonexistent.so"})
        self.assertEqual(proc.returncode, 2)
        self.assertIn("UPLOADGUARD_LIB=/nonexistent.so: no such file", text(proc)[1])

    def test_command_not_found(self):
        proc = run_tool("run", "--", "no-such-command-ug", env={"UPLOADGUARD_LIB": LIBM})
        self.assertEqual(proc.returncode, 127)
        self.assertIn("no-such-command-ug: command not found", text(proc)[1])

    def test_exit_status_passed_through(self):
        proc = run_tool("run", "--", "sh", "-c", "exit 7", env={"UPLOADGUARD_LIB": LIBM})
        self.assertEqual(proc.returncode, 7)


class CheckTest(TempDirTest):
    def test_current_process_not_guarded(self):
        proc = run_tool("check", "--pid", str(os.getpid()))
        out, err = text(proc)
        self.assertEqual(proc.returncode, 1, err)
        self.assertIn(f"pid {os.getpid()}: NOT guarded", out)
        self.assertIn("executable:", out)

    @unittest.skipUnless(LIBM, "needs libm.so.6 as a stand-in preload library")
    def test_preloaded_process_guarded(self):
        fake = os.path.join(self.tmp, "libuploadguard.so")
        shutil.copy(LIBM, fake)
        child = subprocess.Popen(
            ["sleep", "30"],
            env={**os.environ, "LD_PRELOAD": fake,
                 "UPLOADGUARD_CONFIG_TEXT": "[upload /srv]\nmax_file = 1M\n"})
        self.addCleanup(child.wait)
        self.addCleanup(child.kill)
        deadline = time.time() + 10
        while time.time() < deadline:  # wait for the exec to complete
            with open(f"/proc/{child.pid}/maps") as f:
                if fake in f.read():
                    break
            time.sleep(0.02)
        proc = run_tool("check", "--pid", str(child.pid))
        out, err = text(proc)
        self.assertEqual(proc.returncode, 0, out + err)
        self.assertIn("guarded", out)
        self.assertIn(f"library:     {fake}", out)
        self.assertIn("max_file = 1M", out)
        proc = run_tool("check", "--pid", str(child.pid), "--json")
        info = json.loads(text(proc)[0])
        self.assertTrue(info["guarded"])
        self.assertEqual(info["libraries"], [fake])
        self.assertEqual(info["exe"], os.path.realpath(shutil.which("sleep")))
        self.assertIn("UPLOADGUARD_CONFIG_TEXT", info["environment"])

    def test_no_such_pid(self):
        proc = run_tool("check", "--pid", "999999999")
        _, err = text(proc)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("uploadguard: error: no such process: 999999999", err)

    def test_config_check_delegates_to_checker(self):
        checker = self.write("fake-check", b"#!/bin/sh\necho \"args: $*\"\nexit 3\n")
        os.chmod(checker, 0o755)
        proc = run_tool("check", "-c", "/etc/x.ini", "--json",
                        env={"UPLOADGUARD_CHECK": checker})
        self.assertEqual(proc.returncode, 3)
        self.assertEqual(text(proc)[0], "args: -c /etc/x.ini --json\n")

    def test_missing_checker(self):
        proc = run_tool("check", env={"UPLOADGUARD_CHECK": "/nonexistent"})
        self.assertEqual(proc.returncode, 2)
        self.assertIn("uploadguard: error:", text(proc)[1])


class HelpTest(unittest.TestCase):
    def test_every_help_has_examples_and_exit_status(self):
        for sub in ("run", "check", "report", "symbolize"):
            proc = run_tool(sub, "--help")
            out, _ = text(proc)
            self.assertEqual(proc.returncode, 0)
            self.assertIn("examples:", out)
            self.assertIn("exit status:", out)
        out = text(run_tool("--help"))[0]
        self.assertIn("exit status:", out)

    def test_sizes(self):
        import argparse
        for good in ("0", "123", "10k", "10K", "1M", "1g", "2T"):
            self.assertEqual(ug.parse_size(good), good)
        for bad in ("", "K", "1KB", "1.5M", " 1", "16777216T"):
            with self.assertRaises(argparse.ArgumentTypeError):
                ug.parse_size(bad)

    def test_rfc3339(self):
        self.assertEqual(ug.parse_rfc3339("1970-01-01T00:00:01.5Z"), 1_500_000_000)
        self.assertEqual(ug.parse_rfc3339("1970-01-01T01:00:00+01:00"), 0)
        self.assertEqual(ug.parse_rfc3339("1970-01-02"), 86400 * 10**9)
        self.assertIsNone(ug.parse_rfc3339("1970-02-30T00:00:00Z"))
        self.assertIsNone(ug.parse_rfc3339(42))


if __name__ == "__main__":
    unittest.main(verbosity=1)
