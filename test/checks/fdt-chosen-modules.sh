#!/bin/sh
# arm64: boot modules named by /chosen "multiboot,module" nodes, end to end.
# Dumps QEMU virt's own device tree for this machine, adds two module nodes
# to /chosen (one named by its node name, one by the first word of its
# bootargs), loads the module bytes at those addresses with QEMU's generic
# loader, boots bulkhead with that DTB and checks both modules are found,
# named and sized as described.
# With "ghost-cpu", the tree also lists a CPU that the machine does not have
# (MPIDR 0x100): PSCI CPU_ON must fail for it, the failure must be reported,
# and the boot must go on with the real CPUs.
# With "bad-dtb", one node name of the tree is patched to hold a '/' (QEMU
# copies the blob as it is): the image must call the device tree malformed on
# the fallback UART and stop.
# Usage: fdt-chosen-modules.sh OUT [ghost-cpu|bad-dtb]
set -eu
out=$(cd "$1" && pwd)
mode=${2:-modules}
w="$out/chosen-modules-$mode"
mkdir -p "$w"
cfg="$out/configs/arm64-demo1.dtb"
mod=test/data/module-b.txt
machine="virt,virtualization=on,gic-version=3"
qemu="qemu-system-aarch64 -cpu max,pauth-impdef=on -smp 2 -m 512 -nographic -nodefaults -no-reboot"

$qemu -M "$machine,dumpdtb=$w/base.dtb" >/dev/null 2>&1
dtc -q -I dtb -O dts -o "$w/base.dts" "$w/base.dtb"
cfg_size=$(wc -c < "$cfg")
mod_size=$(wc -c < "$mod")
python3 - "$w/base.dts" "$w/modules.dts" "$cfg_size" "$mod_size" "$mode" <<'PY'
import sys
src, dst, cfg_size, mod_size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
mode = sys.argv[5]
text = open(src).read()
props = """
		#address-cells = <0x02>;
		#size-cells = <0x02>;
"""
nodes = f"""
		config@44000000 {{
			compatible = "multiboot,module";
			reg = <0x00 0x44000000 0x00 {cfg_size:#x}>;
		}};
		module@45000000 {{
			compatible = "multiboot,kernel", "multiboot,module";
			reg = <0x00 0x45000000 0x00 {mod_size:#x}>;
			bootargs = "hello quiet level=2";
		}};
"""
c = text.index("chosen {")
i = text.index("\n", c) + 1
j = text.index("\n\t};", c) + 1
text = text[:i] + props + text[i:j] + nodes + text[j:]
if mode == "ghost-cpu":
    ghost = '''
		cpu@100 {
			device_type = "cpu";
			compatible = "arm,arm-v8";
			reg = <0x100>;
			enable-method = "psci";
		};
'''
    c = text.index("cpus {")
    i = text.index("\n", c) + 1
    k = text.index("cpu@", c)
    k = text.rindex("\n", 0, k) + 1
    text = text[:k] + ghost + text[k:]
open(dst, "w").write(text)
PY
dtc -q -I dts -O dtb -o "$w/modules.dtb" "$w/modules.dts"
limit=60
if [ "$mode" = bad-dtb ]; then
    python3 - "$w/modules.dtb" <<'PY'
import sys
p = sys.argv[1]
b = open(p, "rb").read()
assert b.count(b"config@44000000\0") == 1
open(p, "wb").write(b.replace(b"config@44000000\0", b"config/44000000\0"))
PY
    limit=10 # nothing to power off with: the image halts
fi


timeout $limit $qemu -M "$machine" -serial stdio -dtb "$w/modules.dtb" \
    -kernel "$out/arm64/bulkhead.bin" -append on_idle=poweroff \
    -device "loader,file=$cfg,addr=0x44000000,force-raw=on" \
    -device "loader,file=$mod,addr=0x45000000,force-raw=on" | tr -d '\r' > "$w/serial.log" || true
cat "$w/serial.log"
fail=0
expect() {
    if ! grep -Eq "$1" "$w/serial.log"; then
        echo "fdt-chosen-modules: expected /$1/ not found"
        fail=1
    fi
}
if [ "$mode" = bad-dtb ]; then
    expect "boot stopped: the device tree at 0x[0-9a-f]+ passed in x0 is malformed: bad node name"
    expect "halted"
    if grep -q "Bulkhead [0-9]" "$w/serial.log"; then fail=1; fi
    exit $fail
fi
expect "modules: 2"
expect "config +$cfg_size bytes .* at 0x44000000"
expect "hello +$mod_size bytes .* at 0x45000000  args: quiet level=2"
if [ "$mode" = ghost-cpu ]; then
    expect "cpu [0-9] \\(hwid 0x100\\): PSCI CPU_ON failed: -2 \\(INVALID_PARAMETERS\\); going on without it"
    expect "cpus: +2 online of 3 found"
else
    expect "cpus: +2 online of 2 found"
fi
expect "config: module 'config' accepted"
expect "powering off"
if grep -q EXCEPTION "$w/serial.log"; then fail=1; fi
exit $fail
