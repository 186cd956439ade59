#!/usr/bin/env python3
"""Turn an unpacked Debian kernel and busybox into a Bulkhead test guest.

  mkguest.py arm64|amd64 VMLINUZ BUSYBOX OUTDIR

arm64: OUTDIR/Image is the kernel Image (gunzipped if the package compressed it).
amd64: OUTDIR/vmlinux is the ELF kernel taken out of the bzImage (its xz payload),
       checked for the PVH entry note (Xen ELF note type 18) that Bulkhead enters.
Both:  OUTDIR/initramfs.cpio.gz holds busybox, /dev/console and /dev/null, and an
       /init that prints markers, the CPUs online and /proc/interrupts twice one
       second apart, reads one line from the console (60 s at most) and prints
       it, then powers off. Device nodes are written straight into the
       newc archive, so no root and no mknod are needed.
"""
import gzip
import lzma
import os
import struct
import sys

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo BULKHEAD-LINUX-INIT-OK
echo "cpus online: $(cat /sys/devices/system/cpu/online)"
echo "--- interrupts (first)"
cat /proc/interrupts
sleep 1
echo "--- interrupts (second)"
cat /proc/interrupts
echo "--- end of interrupts"
echo BULKHEAD-LINUX-TYPE-A-LINE
if read -t 60 line; then
    echo "BULKHEAD-LINUX-GOT: [$line]"
else
    echo BULKHEAD-LINUX-NO-INPUT
fi
echo BULKHEAD-LINUX-POWEROFF
poweroff -f
"""


def die(msg):
    sys.exit(f"mkguest: {msg}")


def arm64_image(data):
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 64 or data[0x38:0x3c] != b"ARM\x64":
        die("the arm64 kernel is not a Linux arm64 Image (no 'ARM\\x64' magic at 0x38)")
    return data


def elf_has_pvh_note(elf):
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _, p_off, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        off, end = p_off, p_off + p_filesz
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, off)
            name = elf[off + 12:off + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == 18:
                return True
            off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return False


def amd64_vmlinux(bz):
    if len(bz) < 0x250 or bz[0x202:0x206] != b"HdrS":
        die("the amd64 kernel is not a bzImage (no 'HdrS' setup header)")
    setup_sects = bz[0x1f1] or 4
    payload_off, payload_len = struct.unpack_from("<II", bz, 0x248)
    start = (setup_sects + 1) * 512 + payload_off
    payload = bz[start:start + payload_len]
    if payload[:6] != b"\xfd7zXZ\x00":
        die(f"the bzImage payload at {start:#x} is not xz (starts {payload[:6].hex()})")
    elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if not elf_has_pvh_note(elf):
        die("the decompressed vmlinux has no PVH entry note (Xen ELF note type 18)")
    return elf


def cpio(entries):
    out = bytearray()
    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", (0, 0))], 1):
        nb = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0)
        out += ("070701" + "".join("%08X" % v for v in fields)).encode() + nb
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("arm64", "amd64"):
        die("usage: mkguest.py arm64|amd64 VMLINUZ BUSYBOX OUTDIR")
    arch, kpath, bbpath, outdir = sys.argv[1:]
    kernel = open(kpath, "rb").read()
    if arch == "arm64":
        name, data = "Image", arm64_image(kernel)
    else:
        name, data = "vmlinux", amd64_vmlinux(kernel)
    bb = open(bbpath, "rb").read()
    if bb[:4] != b"\x7fELF":
        die(f"{bbpath} is not an ELF busybox")
    d, f, c = 0o040755, 0o100755, 0o020600
    ramfs = cpio([("bin", d, b"", (0, 0)), ("dev", d, b"", (0, 0)), ("proc", d, b"", (0, 0)),
                  ("sys", d, b"", (0, 0)), ("sbin", d, b"", (0, 0)), ("tmp", d, b"", (0, 0)),
                  ("dev/console", c, b"", (5, 1)), ("dev/null", 0o020666, b"", (1, 3)),
                  ("bin/busybox", f, bb, (0, 0)), ("init", f, INIT.encode(), (0, 0))])
    os.makedirs(outdir, exist_ok=True)
    for fname, blob in ((name, data), ("initramfs.cpio.gz", gzip.compress(ramfs, 9, mtime=0))):
        tmp = os.path.join(outdir, fname + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, os.path.join(outdir, fname))
    print(f"mkguest: {arch}: {name} {len(data)} bytes, initramfs {len(ramfs)} bytes (uncompressed)")


if __name__ == "__main__":
    main()
