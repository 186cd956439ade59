#!/bin/sh
# Install the Debian/Ubuntu packages that building, `make run` and `make test`
# need. Idempotent: packages already present are left alone and nothing is
# installed when everything is there. Runs apt-get as root, or through sudo.
set -eu

PKGS="make gcc clang lld binutils gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
qemu-system-x86 qemu-system-arm bochs bochsbios vgabios
grub-pc-bin grub-efi-amd64-bin grub-common xorriso mtools ovmf qemu-efi-aarch64
device-tree-compiler libfdt-dev spin cpio python3"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all build and test packages are present"
    exit 0
fi

echo "install-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-deps: need root or sudo to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
echo "install-deps: done"
