#!/usr/bin/env python3
"""Parity of the host checker and the boot (issue 12): a configuration the
checker calls valid must boot, and one it refuses must be refused at boot for
the same reasons.

  parity.py OUT

Every fixture in test/unit/configs/*.dts with a line
  // parity: MACHINE CPUS MEMORY_MB      (MACHINE: qemu-virt or qemu-bios)
is checked with OUT/host/bulkhead-config on a machine of that size and booted
in that emulator with the same modules (its "// args: --module NAME=FILE"
ones, else a placeholder 'hello'). The "config: /..." lines of the two must
be the same. Both run the same cfg_check(); this catches what each side adds
around it (machine limits, reserved devices and ports, module sizes).
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "test"))
import runner  # noqa: E402

PLACEHOLDER = "test/unit/configs/boot/placeholder-kernel.txt"


def config_lines(text):
    return sorted(set(l.strip() for l in text.replace("\r", "").splitlines()
                      if re.match(r"^config: /", l.strip())))


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    tool = os.path.join(out, "host", "bulkhead-config")
    tmp = tempfile.mkdtemp(prefix="bh-parity-")
    passed = failed = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "test/unit/configs/*.dts"))):
        name = os.path.splitext(os.path.basename(path))[0]
        parity, args = None, []
        with open(path) as fh:
            for line in fh:
                m = re.match(r"^// (parity|args): (.*)$", line.rstrip("\n"))
                if m and m.group(1) == "parity":
                    parity = m.group(2).split()
                elif m:
                    args += shlex.split(m.group(2))
        if not parity:
            continue
        machine, cpus, mem = parity[0], int(parity[1]), int(parity[2])
        arch = "arm64" if machine == "qemu-virt" else "x86_64"
        mods = []
        rest = []
        i = 0
        while i < len(args):
            if args[i] == "--module" and i + 1 < len(args):
                n, _, f = args[i + 1].partition("=")
                if n != "config":
                    mods.append((n, f or PLACEHOLDER))
                i += 2
            elif args[i] in ("--arch", "--cpus", "--memory"):
                i += 2
            else:
                rest.append(args[i])
                i += 1
        if not mods:
            mods = [("hello", PLACEHOLDER)]
        cargs = [tool, "check", path, "--arch", arch, "--cpus", str(cpus), "--memory", f"{mem}M",
                 "--module", "config"] + sum((["--module", f"{n}={f}"] for n, f in mods), []) + rest
        p = subprocess.run(cargs, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        checker = config_lines(p.stdout.decode(errors="replace"))

        dtb = os.path.join(tmp, name + ".dtb")
        subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", dtb, path], check=True)
        s = {"name": "parity-" + name, "arch": arch, "machine": machine, "cpus": cpus,
             "memory_mb": mem, "cmdline": "on_idle=poweroff", "timeout": 120,
             "modules": [{"name": "config", "file": dtb}] +
                        [{"name": n, "file": os.path.join(ROOT, f)} for n, f in mods]}
        workdir = tempfile.mkdtemp(dir=tmp)
        cmd, serial = runner.launch(s, out, workdir)
        rc, text = runner.run_cmd(cmd, timeout=120, cwd=workdir)
        if serial:
            with open(serial, errors="replace") as fh:
                text = fh.read()
        boot = config_lines(text)
        problems = []
        if p.returncode != 1:
            problems.append(f"checker exit status {p.returncode}, expected 1")
        if "boot stopped: configuration has" not in text:
            problems.append("the boot did not stop on the configuration")
        for l in checker:
            if l not in boot:
                problems.append(f"only the checker says: {l}")
        for l in boot:
            if l not in checker:
                problems.append(f"only the boot says: {l}")
        if problems:
            failed += 1
            print(f"FAIL: parity.{name}: " + "; ".join(problems))
        else:
            passed += 1
            print(f"PASS: parity.{name} ({len(boot)} error line{'s' if len(boot) != 1 else ''} agree)")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
