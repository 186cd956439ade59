#!/usr/bin/env python3
"""Run bulkhead-config over the configuration fixtures.

  run.py TOOL

Invalid fixtures: test/unit/configs/*.dts and test/unit/configs/boot/*.dts.
Each starts with comment lines
  // expect: TEXT     (one or more) TEXT must appear in an output line
  // args: OPTIONS    extra options (defaults: --arch x86_64 --cpus 4 --memory 1G)
  // errors: N        optional: exactly N errors are reported
and must make the tool exit 1.
Valid examples: guests/configs/*.dts must make the tool exit 0 with the
options in their "bulkhead-config check FILE OPTIONS" comment line.
"""
import glob
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEFAULTS = ["--arch", "x86_64", "--cpus", "4", "--memory", "1G"]


def run(tool, path, args):
    p = subprocess.run([tool, "check", path] + args, cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


def main():
    tool = os.path.abspath(sys.argv[1])
    passed = failed = 0

    def result(name, problems, out):
        nonlocal passed, failed
        if problems:
            failed += 1
            print(f"FAIL: {name}: " + "; ".join(problems))
            print("  " + out.replace("\n", "\n  "))
        else:
            passed += 1
            print(f"PASS: {name}")

    bad = sorted(glob.glob(os.path.join(ROOT, "test/unit/configs/*.dts")) +
                 glob.glob(os.path.join(ROOT, "test/unit/configs/boot/*.dts")))
    for path in bad:
        name = "invalid." + os.path.splitext(os.path.basename(path))[0]
        expects, args, nerr = [], [], None
        with open(path) as fh:
            for line in fh:
                m = re.match(r"^// (expect|args|errors): (.*)$", line.rstrip("\n"))
                if m:
                    key, val = m.groups()
                    if key == "expect":
                        expects.append(val)
                    elif key == "args":
                        args += shlex.split(val)
                    else:
                        nerr = int(val)
        problems = []
        if not expects:
            problems.append("fixture has no '// expect:' line")
        rc, out = run(tool, os.path.relpath(path, ROOT), DEFAULTS + args)
        if rc != 1:
            problems.append(f"exit status {rc}, expected 1")
        lines = out.splitlines()
        for e in expects:
            if not any(e in l for l in lines):
                problems.append(f"missing: {e}")
        if nerr is not None:
            m = re.search(r": (\d+) errors?$", out, re.M)
            got = int(m.group(1)) if m else None
            if got != nerr:
                problems.append(f"{got} errors reported, expected {nerr}")
        result(name, problems, out)

    for path in sorted(glob.glob(os.path.join(ROOT, "guests/configs/*.dts"))):
        name = "valid." + os.path.splitext(os.path.basename(path))[0]
        args = None
        with open(path) as fh:
            for line in fh:
                m = re.search(r"bulkhead-config check (\S+)(.*)$", line)
                if m:
                    args = shlex.split(m.group(2))
                    break
        problems = []
        if args is None:
            problems.append("no 'bulkhead-config check FILE OPTIONS' comment")
            args = []
        rc, out = run(tool, os.path.relpath(path, ROOT), args)
        if rc != 0:
            problems.append(f"exit status {rc}, expected 0")
        if "partition " not in out:
            problems.append("no partition summary printed")
        result(name, problems, out)

    # Command-line behaviour: exit status 2 for usage errors, .dtb input, modules from files.
    tmp = os.path.join(os.path.dirname(tool), "config-cli")
    os.makedirs(tmp, exist_ok=True)
    demo = "guests/configs/x86_64-demo2.dts"
    dtb = os.path.join(tmp, "demo2.dtb")
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", dtb, demo], cwd=ROOT, check=True)
    big = os.path.join(tmp, "big.bin")
    with open(big, "wb") as fh:
        fh.write(b"\0" * 20000)
    cli = [
        ("no-args", [], 2, "usage: bulkhead-config check"),
        ("help", ["--help"], 0, "usage: bulkhead-config check"),
        ("no-file", ["check"], 2, "no configuration file given"),
        ("unknown-option", ["check", demo, "--colour"], 2, "unknown option '--colour'"),
        ("bad-arch", ["check", demo, "--arch", "mips"], 2, "--arch must be x86_64 or arm64"),
        ("bad-cpus", ["check", demo, "--cpus", "0"], 2, "--cpus needs a number"),
        ("bad-memory", ["check", demo, "--memory", "lots"], 2, "--memory needs a size"),
        ("missing-value", ["check", demo, "--cpus"], 2, "--cpus needs a value"),
        ("missing-file", ["check", "no/such.dtb"], 2, "no/such.dtb: No such file"),
        ("module-file-missing", ["check", demo, "--module", "hello=no/such"], 2, "no/such"),
        ("dtb-input", ["check", dtb, "--cpus", "2"], 0, "partition heartbeat: cpus 1;"),
        ("dts-summary", ["check", demo, "--cpus", "2"], 0,
         "channel ping: 4 KiB, host allocated at boot; members: hello@0x2000000(rw) heartbeat@0x2000000(r)"),
        ("modules-from-files", ["check", demo, "--cpus", "2", "--module", "hello=" + big,
                                "--module", "heartbeat=" + big], 0, "modules: hello heartbeat\n"),
        ("module-not-given", ["check", demo, "--cpus", "2", "--module", "hello=" + big], 1,
         "config: /partitions/heartbeat: kernel: no boot module named 'heartbeat' (loaded: hello)"),
        ("too-few-cpus", ["check", demo, "--cpus", "1"], 1,
         "config: /partitions/heartbeat: cpus: CPU 1 is not present (the machine has 1 CPU: index 0)"),
        ("quiet-valid", ["check", demo, "--cpus", "2", "-q"], 0, ""),
        ("cmdline-escaped", ["check", "test/unit/configs/valid/cmdline-escape.dts"], 0,
         "  cmdline: quiet\\x0aconfig: /partitions/hello: forged\\x1b[2J\\x1b]0;t\\x07\n"),
        ("max-errors", ["check", "test/unit/configs/many-errors.dts", "--max-errors", "2"], 1,
         "config: ... and 4 more errors not shown"),
    ]
    for name, args, want_rc, want in cli:
        p = subprocess.run([tool] + args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        out = p.stdout.decode(errors="replace")
        problems = []
        if p.returncode != want_rc:
            problems.append(f"exit status {p.returncode}, expected {want_rc}")
        if want and want not in out:
            problems.append(f"missing: {want!r}")
        if "\x1b" in out or "forged\n" in out:
            problems.append("configuration text printed unescaped")
        if name == "quiet-valid" and out.strip():
            problems.append("printed output with -q on a valid config")
        result("cli." + name, problems, out)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
