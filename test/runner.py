#!/usr/bin/env python3
"""Bulkhead test runner.

  runner.py [--out DIR] all [--only PATTERN] [--long]   unit tests, checks, scenarios
  runner.py [--out DIR] unit                            host unit tests only
  runner.py [--out DIR] scenario NAME [NAME...]          emulator scenarios by name
  runner.py [--out DIR] check NAME [NAME...]             checks (test/checks/*.json) by name
  runner.py [--out DIR] list                            list scenarios and checks
  runner.py [--out DIR] run ARCH [--scenario NAME]      boot the demo, serial on the terminal
  runner.py [--out DIR] fuzz [--seconds N]              run every fuzzer for N seconds each
  runner.py [--out DIR] bench                           run the benchmarks (test/bench/*.json)

Unit tests are the binaries in OUT/host listed in OUT/host/unit-tests.txt; each
prints "PASS: name" / "FAIL: name" lines. Checks are commands (test/checks/*.json:
{"name", "cmd", "timeout", "long"}) that pass when they exit 0. Scenarios are
test/scenarios/*.json (see test/scenarios/README.md). The run ends with the line
"N passed, N failed, N skipped".
"""
import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
BOCHS_BIOS = "/usr/share/bochs/BIOS-bochs-latest"
BOCHS_VGA = "/usr/share/bochs/VGABIOS-lgpl-latest"

# Patterns that mean the hypervisor itself broke, whatever the scenario expects.
DEFAULT_REJECT = [r"EXCEPTION", r"\bPANIC\b"]


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def add(self, name, ok, detail=""):
        if ok is None:
            self.skipped += 1
            print(f"SKIP: {name}{': ' + detail if detail else ''}", flush=True)
        elif ok:
            self.passed += 1
            print(f"PASS: {name}", flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print(f"FAIL: {name}{': ' + detail if detail else ''}", flush=True)

    def summary(self):
        if self.failures:
            print("failed: " + ", ".join(self.failures))
        print(f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped", flush=True)
        return 0 if self.failed == 0 else 1


def run_cmd(cmd, timeout, cwd=ROOT, env=None, stdin=subprocess.DEVNULL, input_text=None):
    """Run cmd in its own process group; kill the group at timeout. input_text,
    when given, is written to its standard input (then closed).
    Returns (returncode or None on timeout, combined output)."""
    if input_text is not None:
        stdin = subprocess.PIPE
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=stdin,
                         start_new_session=True, shell=isinstance(cmd, str))
    try:
        out, _ = p.communicate(input=input_text.encode() if input_text is not None else None,
                               timeout=timeout)
        return p.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        return None, out.decode(errors="replace")


# ---------------------------------------------------------------- unit tests

def run_units(args, res):
    listing = os.path.join(args.out, "host", "unit-tests.txt")
    bins = sorted(glob.glob(os.path.join(args.out, "host", "test_*")))
    bins = [b for b in bins if os.access(b, os.X_OK) and not b.endswith(".d")]
    if not bins:
        res.add("unit-tests", False, f"no unit test binaries in {args.out}/host (run make unit)")
        return
    for b in bins:
        name = os.path.basename(b)
        if args.only and not re.search(args.only, name):
            continue
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        rc, out = run_cmd([os.path.abspath(b)], timeout=600, env=env)
        cases = 0
        for line in out.splitlines():
            m = re.match(r"^(PASS|FAIL|SKIP): (.*)$", line)
            if m:
                cases += 1
                ok = {"PASS": True, "FAIL": False, "SKIP": None}[m.group(1)]
                if ok is False:
                    print(out)
                res.add(f"{name}.{m.group(2)}", ok)
        if rc != 0 and (rc is None or cases == 0 or "FAIL:" not in out):
            print(out[-4000:])
            res.add(f"{name}", False,
                    "timed out" if rc is None else f"exited {rc} (crash or sanitizer report)")
        elif cases == 0:
            res.add(name, False, "printed no test results")


# ---------------------------------------------------------------- checks

def load_checks():
    checks = []
    for f in sorted(glob.glob(os.path.join(ROOT, "test", "checks", "*.json"))):
        with open(f) as fh:
            c = json.load(fh)
        c.setdefault("name", os.path.splitext(os.path.basename(f))[0])
        checks.append(c)
    return checks


def run_check(c, args, res):
    cmd = c["cmd"].replace("{out}", args.out)
    t0 = time.time()
    rc, out = run_cmd(cmd, timeout=c.get("timeout", 300))
    ok = rc == 0
    if not ok:
        print(out[-6000:])
    res.add(f"check.{c['name']}", ok,
            "" if ok else ("timed out" if rc is None else f"exit {rc}") + f" after {time.time()-t0:.0f}s")


# ---------------------------------------------------------------- scenarios

def load_scenarios():
    sc = {}
    for f in sorted(glob.glob(os.path.join(ROOT, "test", "scenarios", "*.json"))):
        with open(f) as fh:
            s = json.load(fh)
        s["name"] = os.path.splitext(os.path.basename(f))[0]
        sc[s["name"]] = s
    return sc


CACHE = os.environ.get("BULKHEAD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "bulkhead")


FETCHED = set()  # arches whose Debian guest tools/fetch-debian-guest.sh checked this run


def resolve(path, arch, out):
    """'build:foo' is OUT/ARCH/foo, 'host:foo' is OUT/host/foo, 'cache:debian12-A/foo'
    is a real Debian guest fetched by tools/fetch-debian-guest.sh A into the cache
    outside git (the script runs once per arch and run: it fetches on first use and
    rebuilds the guest when the pinned versions or tools/mkguest.py changed), else
    relative to the repo."""
    if path.startswith("cache:"):
        full = os.path.join(CACHE, path[6:])
        m = re.match(r"debian12-(arm64|amd64)/", path[6:])
        if m and m.group(1) not in FETCHED:
            rc, txt = run_cmd(["sh", os.path.join(ROOT, "tools", "fetch-debian-guest.sh"), m.group(1)],
                              timeout=1200)
            if rc != 0 or not os.path.exists(full):
                raise RuntimeError(f"tools/fetch-debian-guest.sh {m.group(1)} failed:\n{txt}")
            FETCHED.add(m.group(1))
        return full
    if path.startswith("build:"):
        return os.path.join(out, arch, path[6:])
    if path.startswith("host:"):
        return os.path.join(out, "host", path[5:])
    return os.path.join(ROOT, path)


def grub_iso(s, out, workdir):
    """Build a GRUB rescue ISO (BIOS + UEFI) that boots bulkhead.elf with the modules."""
    arch = s.get("arch", "x86_64")
    image = os.path.join(out, arch, "bulkhead.elf")
    iso_root = os.path.join(workdir, "iso")
    os.makedirs(os.path.join(iso_root, "boot", "grub"), exist_ok=True)
    shutil.copy(image, os.path.join(iso_root, "boot", "bulkhead.elf"))
    lines = ["set timeout=0", "set default=0", "serial --unit=0 --speed=115200",
             "terminal_output --append serial", "terminal_input --append serial",
             "menuentry 'Bulkhead' {",
             f"  multiboot2 /boot/bulkhead.elf {s.get('cmdline', '')}".rstrip()]
    for i, m in enumerate(s.get("modules", [])):
        src = resolve(m["file"], arch, out)
        dst = f"m{i}-{os.path.basename(src)}"
        shutil.copy(src, os.path.join(iso_root, "boot", dst))
        word = (m.get("name", "") + " " + m.get("args", "")).strip()
        lines.append(f"  module2 /boot/{dst} {word}".rstrip())
    lines += ["  boot", "}"]
    with open(os.path.join(iso_root, "boot", "grub", "grub.cfg"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    iso = os.path.join(workdir, "bulkhead.iso")
    rc, txt = run_cmd(["grub-mkrescue", "-o", iso, iso_root], timeout=120)
    if rc != 0 or not os.path.exists(iso):
        raise RuntimeError("grub-mkrescue failed:\n" + txt)
    return iso


def cpio_newc(files):
    """files: list of (name, bytes). Returns a cpio newc archive."""
    out = bytearray()

    def entry(name, data, mode, ino):
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        out.extend(hdr.encode())
        out.extend(nb)
        while len(out) % 4:
            out.append(0)
        out.extend(data)
        while len(out) % 4:
            out.append(0)

    for i, (name, data) in enumerate(files):
        entry(name, data, 0o100644, i + 1)
    entry("TRAILER!!!", b"", 0, 0)
    return bytes(out)


def qemu_x86_cmd(s, iso, workdir, uefi):
    cmd = ["qemu-system-x86_64", "-nodefaults", "-display", "none", "-no-reboot",
           "-m", str(s.get("memory_mb", 256)), "-smp", str(s.get("cpus", 1)),
           "-cdrom", iso, "-boot", "d", "-serial", "stdio"]
    if uefi:
        vars_copy = os.path.join(workdir, "OVMF_VARS.fd")
        shutil.copy(OVMF_VARS, vars_copy)
        cmd += ["-M", "q35",
                "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,file={vars_copy}"]
    else:
        cmd += ["-M", s.get("qemu_machine", "pc")]
    if "qemu_cpu" in s:
        cmd += ["-cpu", s["qemu_cpu"]]
    return cmd + s.get("qemu_args", [])


def bochs_setup(s, iso, workdir, pty_slave=None):
    """pty_slave: the name of a pseudo-terminal for COM1 (mode=term: input
    and output), else COM1 output goes to serial.txt (mode=file)."""
    serial = os.path.join(workdir, "serial.txt")
    com1 = f"mode=term, dev={pty_slave}" if pty_slave else f"mode=file, dev={serial}"
    rc = os.path.join(workdir, "bochs.rc")
    with open(rc, "w") as fh:
        fh.write("c\nq\n")
    cfg = os.path.join(workdir, "bochsrc")
    with open(cfg, "w") as fh:
        fh.write(f"""megs: {s.get('memory_mb', 256)}
romimage: file={BOCHS_BIOS}
vgaromimage: file={BOCHS_VGA}
display_library: rfb, options="timeout=0"
cpu: model={s.get('bochs_cpu', 'corei7_skylake_x')}, count={s.get('cpus', 1)}, ips=50000000, reset_on_triple_fault=0, ignore_bad_msrs=1{', quantum=16' if s.get('cpus', 1) > 1 else ''}
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=cdrom, path={iso}, status=inserted
boot: cdrom
clock: sync=none, time0=local
com1: enabled=1, {com1}
{f"com2: enabled=1, mode=file, dev={os.path.join(workdir, 'com2.txt')}" if s.get('com2') else ''}
log: {os.path.join(workdir, 'bochs.log')}
panic: action=fatal
speaker: enabled=0
sound: driver=dummy
""")
    # Debian's Bochs 2.7 aborts ("buffer overflow detected") while opening ALSA
    # on a machine without a sound card, so sound is switched off above.
    return ["bochs", "-q", "-f", cfg, "-rc", rc], None if pty_slave else serial


def arm64_cmd(s, out, workdir):
    arch = "arm64"
    image = os.path.join(out, arch, "bulkhead.bin")
    cmd = ["qemu-system-aarch64", "-M", s.get("qemu_machine", "virt,virtualization=on,gic-version=3"),
           "-cpu", s.get("qemu_cpu", "max,pauth-impdef=on"), "-smp", str(s.get("cpus", 1)),
           "-m", str(s.get("memory_mb", 512)), "-nographic", "-nodefaults", "-no-reboot",
           "-serial", "stdio", "-kernel", image]
    if s.get("cmdline"):
        cmd += ["-append", s["cmdline"]]
    mods = s.get("modules", [])
    if "initrd_file" in s:
        cmd += ["-initrd", resolve(s["initrd_file"], arch, out)]
    elif mods:
        files = []
        for m in mods:
            with open(resolve(m["file"], arch, out), "rb") as fh:
                files.append((m["name"], fh.read()))
        initrd = os.path.join(workdir, "initrd.cpio")
        with open(initrd, "wb") as fh:
            fh.write(cpio_newc(files))
        cmd += ["-initrd", initrd]
    return cmd + s.get("qemu_args", [])


def launch(s, out, workdir, interactive=False, pty_slave=None):
    """Return (command, serial file or None)."""
    machine = s["machine"]
    if machine in ("qemu-bios", "qemu-uefi"):
        iso = grub_iso(s, out, workdir)
        return qemu_x86_cmd(s, iso, workdir, machine == "qemu-uefi"), None
    if machine == "bochs":
        iso = grub_iso(s, out, workdir)
        return bochs_setup(s, iso, workdir, pty_slave)
    if machine == "qemu-virt":
        return arm64_cmd(s, out, workdir), None
    raise RuntimeError(f"unknown machine '{machine}'")


def run_on_pty(cmd, master, timeout, cwd, stages, gap, stdio=None):
    """Run cmd (Bochs with COM1 on the pty whose master is `master`, or QEMU
    with -serial stdio whose standard input and output are the pty's slave
    `stdio`) in its own
    process group, killed at timeout. Returns (returncode or None on timeout,
    everything COM1 sent). stages: a list of (regex or None, text): each text
    in turn is typed on COM1 one byte every `gap` seconds (0: all at once),
    starting once the output matches its regex (at once when None) and the
    text before it has been typed. Text typed before a guest listens is lost:
    the firmware, GRUB and the hypervisor's UART set-up read or clear COM1
    first. Pacing is a precaution: 37 bytes typed at once also arrived
    intact under Bochs 2.7."""
    import select
    io = subprocess.DEVNULL if stdio is None else stdio
    p = subprocess.Popen(cmd, cwd=cwd, stdout=io, stderr=subprocess.DEVNULL,
                         stdin=io, start_new_session=True)
    out = bytearray()
    stages = [(a, t.encode()) for a, t in stages]
    pending = b""
    next_send = None
    deadline = time.time() + timeout
    rc = None

    def drain(wait):
        r, _, _ = select.select([master], [], [], wait)
        if r:
            try:
                out.extend(os.read(master, 65536))
            except OSError:
                pass

    while True:
        drain(0.01)
        now = time.time()
        if not pending and stages:
            after = stages[0][0]
            if after is None or re.search(after, out.decode(errors="replace").replace("\r", ""), re.M):
                pending = stages.pop(0)[1]
                next_send = now
        if pending:
            if next_send is not None and now >= next_send:
                os.write(master, pending[:1])
                pending = pending[1:]
                next_send = now + gap
        if p.poll() is not None:
            rc = p.returncode
            break
        if now > deadline:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
            break
    for _ in range(20):
        n = len(out)
        drain(0.05)
        if len(out) == n:
            break
    return rc, out.decode(errors="replace")


def check_output(s, text, rc):
    problems = []
    for pat in s.get("expect", []):
        if not re.search(pat, text, re.M):
            problems.append(f"expected /{pat}/ not found")
    for pat, n in s.get("expect_count", {}).items():
        got = len(re.findall(pat, text, re.M))
        if got != n:
            problems.append(f"/{pat}/ seen {got} times, expected {n}")
    for pat, n in s.get("expect_max", {}).items():
        got = len(re.findall(pat, text, re.M))
        if got > n:
            problems.append(f"/{pat}/ seen {got} times, at most {n} allowed")
    order = s.get("expect_order", [])
    pos = 0
    for pat in order:
        m = re.compile(pat, re.M).search(text, pos)
        if not m:
            problems.append(f"/{pat}/ not found in order")
            break
        pos = m.end()
    # "expect_rising": {regex with numeric groups: minimum matches}: every
    # group must be strictly larger in each match than in the one before
    # (e.g. a per-CPU interrupt count read twice).
    for pat, n in s.get("expect_rising", {}).items():
        ms = [[int(g) for g in m.groups()] for m in re.finditer(pat, text, re.M)]
        if len(ms) < n:
            problems.append(f"/{pat}/ seen {len(ms)} times, expected at least {n}")
        for a, b in zip(ms, ms[1:]):
            if not all(y > x for x, y in zip(a, b)):
                problems.append(f"/{pat}/: counts {a} then {b} do not all rise")
    # "expect_same": {regex with groups: minimum matches}: every match must
    # capture the same values (e.g. a free-memory figure at each restart).
    for pat, n in s.get("expect_same", {}).items():
        ms = [m.groups() for m in re.finditer(pat, text, re.M)]
        if len(ms) < n:
            problems.append(f"/{pat}/ seen {len(ms)} times, expected at least {n}")
        elif any(g != ms[0] for g in ms):
            problems.append(f"/{pat}/: values differ between matches: {ms}")
    for pat in s.get("reject", []) + ([] if s.get("allow_default_reject") else DEFAULT_REJECT):
        m = re.search(pat, text, re.M)
        if m:
            problems.append(f"unexpected /{pat}/: {text[max(0, m.start()-80):m.end()+80]!r}")
    if "exit_code" in s and rc != s["exit_code"]:
        problems.append(f"emulator exit status {rc}, expected {s['exit_code']}")
    return problems


def run_scenario(s, args, res):
    name = s["name"]
    for tool in s.get("requires", []):
        if not shutil.which(tool):
            res.add(f"scenario.{name}", False, f"{tool} is not installed")
            return
    workdir = tempfile.mkdtemp(prefix=f"bh-{name}-", dir=os.path.join(args.out, "scenarios")
                               if os.path.isdir(os.path.join(args.out, "scenarios")) else None)
    t0 = time.time()
    # "stdin": text typed on the emulator's serial console: QEMU -serial stdio
    # reads it from standard input; Bochs gets COM1 on a pseudo-terminal
    # (mode=term) and the text is typed there (run_on_pty).
    # With "stdin_after"/"stdin_more" QEMU's stdio is a pseudo-terminal too,
    # so the text can wait for the guest (e.g. a Linux shell's prompt).
    pty = None
    staged = s.get("stdin_after") is not None or bool(s.get("stdin_more"))
    if s.get("stdin") is not None and (s["machine"] == "bochs" or staged):
        import tty
        pty = os.openpty()
        tty.setraw(pty[1])
    try:
        cmd, serial = launch(s, args.out, workdir, pty_slave=os.ttyname(pty[1])
                             if pty and s["machine"] == "bochs" else None)
    except Exception as e:  # noqa: BLE001 - report any setup failure as a test failure
        res.add(f"scenario.{name}", False, f"setup failed: {e}")
        return
    timeout = s.get("timeout", 60)
    if pty:
        try:
            # "stdin_more": [{"after": regex, "text": ...}]: typed later, in order
            stages = [(s.get("stdin_after"), s["stdin"])] + \
                [(m["after"], m["text"]) for m in s.get("stdin_more", [])]
            rc, out = run_on_pty(cmd, pty[0], timeout, workdir, stages,
                                 s.get("stdin_gap_ms", 20) / 1000.0,
                                 stdio=None if s["machine"] == "bochs" else pty[1])
        finally:
            os.close(pty[0])
            os.close(pty[1])
    else:
        rc, out = run_cmd(cmd, timeout=timeout, cwd=workdir, input_text=s.get("stdin"))
    text = out
    if serial:
        try:
            with open(serial, errors="replace") as fh:
                text = fh.read()
        except OSError:
            text = ""
    text = text.replace("\r", "")
    log = os.path.join(workdir, "serial.log")
    with open(log, "w") as fh:
        fh.write(text)
    problems = check_output(s, text, rc)
    # "com2_expect": the exact bytes the guest sent out of the emulator's
    # second UART (Bochs "com2": true writes them to com2.txt)
    if "com2_expect" in s:
        try:
            with open(os.path.join(workdir, "com2.txt"), "rb") as fh:
                got = fh.read().decode(errors="replace")
        except OSError:
            got = None
        if got != s["com2_expect"]:
            problems.append(f"COM2 output {got!r}, expected {s['com2_expect']!r}")
    if rc is None and not s.get("timeout_ok"):
        problems.insert(0, f"timed out after {timeout}s")
    ok = not problems
    if not ok or args.verbose:
        print(f"---- {name}: {' '.join(cmd)}")
        print(text[-8000:])
        print(f"---- end of {name} (log: {log})")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    res.add(f"scenario.{name}", ok, "; ".join(problems) + f" [{time.time()-t0:.1f}s]" if problems else "")
    if ok:
        print(f"      ({name}: {time.time()-t0:.1f}s)")


# ---------------------------------------------------------------- commands

def cmd_all(args):
    res = Results()
    if not args.only or args.only == "unit":
        run_units(args, res)
    for c in load_checks():
        if c.get("long") and not args.long:
            continue
        if args.only and not re.search(args.only, c["name"]):
            continue
        run_check(c, args, res)
    os.makedirs(os.path.join(args.out, "scenarios"), exist_ok=True)
    for s in load_scenarios().values():
        if s.get("long") and not args.long:
            continue
        if args.only and not re.search(args.only, s["name"]):
            continue
        run_scenario(s, args, res)
    return res.summary()


def cmd_scenario(args):
    res = Results()
    sc = load_scenarios()
    os.makedirs(os.path.join(args.out, "scenarios"), exist_ok=True)
    for n in args.names:
        if n not in sc:
            res.add(f"scenario.{n}", False, "no such scenario (see runner.py list)")
            continue
        run_scenario(sc[n], args, res)
    return res.summary()


def cmd_check(args):
    res = Results()
    checks = {c["name"]: c for c in load_checks()}
    for n in args.names:
        if n not in checks:
            res.add(f"check.{n}", False, "no such check")
            continue
        run_check(checks[n], args, res)
    return res.summary()


def cmd_unit(args):
    res = Results()
    run_units(args, res)
    return res.summary()


def cmd_list(args):
    for s in load_scenarios().values():
        print(f"scenario {s['name']:32} {s.get('machine', ''):10} {s.get('description', '')}")
    for c in load_checks():
        print(f"check    {c['name']:32} {'(long)' if c.get('long') else ''}")
    return 0


def kvm_nested_vmx():
    """True when /dev/kvm is usable and the Intel KVM module allows nested VMX."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        with open("/sys/module/kvm_intel/parameters/nested") as fh:
            return fh.read().strip() in ("Y", "1")
    except OSError:
        return False


def run_bochs_interactive(s, args, workdir):
    """make run under Bochs from a terminal: COM1 on a pseudo-terminal, its
    output on ours and what is typed here sent to it (so console.input=NAME
    on the scenario's command line works); Ctrl-C ends the run."""
    import select
    import termios
    import tty
    master, slave = os.openpty()
    tty.setraw(slave)
    cmd, _ = launch(s, args.out, workdir, interactive=True, pty_slave=os.ttyname(slave))
    print("running: " + " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    saved = termios.tcgetattr(0)
    try:
        tty.setcbreak(0)  # keystrokes go out one by one; Ctrl-C still interrupts
        while p.poll() is None:
            r, _, _ = select.select([master, 0], [], [], 0.2)
            if master in r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                sys.stdout.write(data.decode(errors="replace").replace("\r", ""))
                sys.stdout.flush()
            if 0 in r:
                data = os.read(0, 1024)
                os.write(master, data)
    except KeyboardInterrupt:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
        os.close(slave)
    return 0


def cmd_run(args):
    sc = load_scenarios()
    name = args.scenario or ("demo-x86_64" if args.arch == "x86_64" else "demo-arm64")
    if name not in sc:
        print(f"no scenario '{name}'", file=sys.stderr)
        return 2
    s = dict(sc[name])
    if s.get("machine") == "bochs":
        if kvm_nested_vmx():
            print("make run: /dev/kvm offers nested VMX: using QEMU with KVM", flush=True)
            s["machine"] = "qemu-bios"
            s["qemu_cpu"] = "host"
            s["qemu_args"] = s.get("qemu_args", []) + ["-enable-kvm"]
        else:
            print("make run: no /dev/kvm with nested VMX here: using Bochs (Intel VT-x CPU model); "
                  "output follows", flush=True)
    workdir = tempfile.mkdtemp(prefix="bh-run-")
    if s.get("machine") == "bochs" and sys.stdin.isatty():
        return run_bochs_interactive(s, args, workdir)
    cmd, serial = launch(s, args.out, workdir, interactive=True)
    print("running: " + " ".join(cmd), flush=True)
    if serial:
        p = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        pos = 0
        try:
            while True:
                if os.path.exists(serial):
                    with open(serial, errors="replace") as fh:
                        fh.seek(pos)
                        chunk = fh.read()
                        pos = fh.tell()
                    sys.stdout.write(chunk.replace("\r", ""))
                    sys.stdout.flush()
                if p.poll() is not None:
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            p.kill()
        return 0
    return subprocess.call(cmd, cwd=workdir)


def cmd_fuzz(args):
    res = Results()
    for f in sorted(glob.glob(os.path.join(args.out, "host", "fuzz", "*"))):
        if not os.access(f, os.X_OK):
            continue
        name = os.path.basename(f)
        corpus = os.path.join(ROOT, "test", "fuzz", "corpus", name)
        work = os.path.join(args.out, "fuzz-corpus", name)
        os.makedirs(work, exist_ok=True)
        cmd = [os.path.abspath(f), f"-max_total_time={args.seconds}", "-print_final_stats=1", work]
        if os.path.isdir(corpus):
            cmd.append(corpus)
        rc, out = run_cmd(cmd, timeout=args.seconds + 120)
        print(out[-3000:])
        res.add(f"fuzz.{name}", rc == 0, "" if rc == 0 else f"exit {rc}")
    return res.summary()


def cmd_bench(args):
    res = Results()
    for f in sorted(glob.glob(os.path.join(ROOT, "test", "bench", "*.json"))):
        with open(f) as fh:
            b = json.load(fh)
        name = b.get("name", os.path.splitext(os.path.basename(f))[0])
        rc, out = run_cmd(b["cmd"].replace("{out}", args.out), timeout=b.get("timeout", 1800))
        print(out)
        res.add(f"bench.{name}", rc == 0, "" if rc == 0 else f"exit {rc}")
    return res.summary()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "build"))
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("all")
    a.add_argument("--only")
    a.add_argument("--long", action="store_true")
    u = sub.add_parser("unit")
    u.add_argument("--only")
    s = sub.add_parser("scenario")
    s.add_argument("names", nargs="+")
    c = sub.add_parser("check")
    c.add_argument("names", nargs="+")
    sub.add_parser("list")
    r = sub.add_parser("run")
    r.add_argument("arch")
    r.add_argument("--scenario")
    f = sub.add_parser("fuzz")
    f.add_argument("--seconds", type=int, default=300)
    sub.add_parser("bench")
    args = ap.parse_args()
    args.out = os.path.abspath(args.out)
    if not hasattr(args, "only"):
        args.only = None
    fn = {"all": cmd_all, "unit": cmd_unit, "scenario": cmd_scenario, "check": cmd_check,
          "list": cmd_list, "run": cmd_run, "fuzz": cmd_fuzz, "bench": cmd_bench}[args.cmd]
    sys.exit(fn(args))


if __name__ == "__main__":
    main()
