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

    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
