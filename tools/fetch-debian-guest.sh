#!/bin/sh
# Fetch a real Debian 12 guest for the long scenarios: the packaged kernel and
# busybox-static, checksums pinned, unpacked into a cache outside the git tree.
#
#   tools/fetch-debian-guest.sh arm64|amd64
#
# Writes ${BULKHEAD_CACHE:-$HOME/.cache/bulkhead}/debian12-ARCH/:
#   arm64: Image              the kernel's uncompressed arm64 Image
#   amd64: vmlinux            the ELF kernel (with its PVH entry note) taken out
#                             of the packaged bzImage
#   both:  initramfs.cpio.gz  busybox and an /init script (tools/mkguest.py)
#          VERSIONS           what was fetched, with checksums
# The host's apt state is left alone: apt runs with private lists and cache in
# the cache folder. Nothing is done when the outputs exist and are current.
set -eu

ARCH="${1:-}"
case "$ARCH" in
arm64)
    KPKG=linux-image-6.1.0-50-arm64 KVER=6.1.176-1
    KSHA=914f75b57a8e165d85fb910c3e2dcc7000a05a9fea3f42f90b26e8dd590d5f06
    BSHA=732c9135564fc71337e0e05fb4da4d11e6c28c1834bce3e405e575afef2a52f5 ;;
amd64)
    KPKG=linux-image-6.1.0-50-amd64 KVER=6.1.176-1
    KSHA=7b5597492a0a65aee61985a492e6bcc3f2cde830072a0e3b3d8c7e1b90279bd3
    BSHA=3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744 ;;
*)
    echo "usage: $0 arm64|amd64" >&2
    exit 2 ;;
esac
BPKG=busybox-static BVER=1:1.35.0-4+deb12u1+b1

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${BULKHEAD_CACHE:-$HOME/.cache/bulkhead}"
OUT="$CACHE/debian12-$ARCH"
STAMP="$KPKG=$KVER $KSHA $BPKG=$BVER $BSHA $(sha256sum "$HERE/mkguest.py" | cut -c1-16)"
if [ -f "$OUT/VERSIONS" ] && [ "$(head -n1 "$OUT/VERSIONS")" = "$STAMP" ]; then
    echo "fetch-debian-guest: $OUT is current"
    exit 0
fi

APT="$CACHE/apt"
mkdir -p "$APT/etc/apt.conf.d" "$APT/etc/preferences.d" "$APT/etc/sources.list.d" \
    "$APT/lists-$ARCH/partial" "$APT/archives/partial" "$APT/debs" "$OUT"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
if [ ! -f "$KEYRING" ]; then
    echo "fetch-debian-guest: $KEYRING is missing (Debian package debian-archive-keyring)" >&2
    exit 1
fi
cat > "$APT/etc/sources-$ARCH.list" <<SRC
deb [arch=$ARCH signed-by=$KEYRING] http://deb.debian.org/debian bookworm main
SRC
set -- -o "Dir::Etc=$APT/etc" -o "Dir::Etc::sourcelist=$APT/etc/sources-$ARCH.list" \
    -o "Dir::Etc::sourceparts=$APT/etc/sources.list.d" \
    -o "Dir::State::Lists=$APT/lists-$ARCH" -o "Dir::Cache=$APT" \
    -o "Dir::Cache::archives=$APT/archives" -o "Dir::State::status=/dev/null" \
    -o "APT::Architecture=$ARCH" -o "APT::Architectures::=$ARCH" \
    -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1"

fetch() { # package version sha256 apt-options... -> path of the verified .deb
    pkg="$1" ver="$2" sha="$3"
    shift 3
    deb="$APT/debs/${pkg}_$(echo "$ver" | tr ':' '%')_$ARCH.deb"
    if [ ! -f "$deb" ] || ! echo "$sha  $deb" | sha256sum -c --status; then
        rm -f "$deb"
        # Fresh package lists once per run that downloads anything.
        if [ ! -f "$APT/updated-$ARCH.$$" ]; then
            rm -f "$APT/updated-$ARCH".*
            apt-get "$@" -qq update >&2 && touch "$APT/updated-$ARCH.$$"
        fi
        tmp="$(mktemp -d "$APT/dl.XXXXXX")"
        if ! (cd "$tmp" && apt-get "$@" -qq download "$pkg:$ARCH=$ver" >&2); then
            rm -rf "$tmp"
            echo "fetch-debian-guest: could not download $pkg $ver for $ARCH from Debian's archive" \
                 "(a point release may have replaced it: update the pinned version and checksum in $0)" >&2
            return 1
        fi
        mv "$tmp"/*.deb "$deb"
        rm -rf "$tmp"
        if ! echo "$sha  $deb" | sha256sum -c --status; then
            echo "fetch-debian-guest: $deb: sha256 $(sha256sum "$deb" | cut -d' ' -f1), expected $sha" >&2
            rm -f "$deb"
            return 1
        fi
    fi
    echo "$deb"
}

KDEB="$(fetch "$KPKG" "$KVER" "$KSHA" "$@")"
BDEB="$(fetch "$BPKG" "$BVER" "$BSHA" "$@")"

WORK="$(mktemp -d "$CACHE/unpack.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -x "$KDEB" "$WORK/k"
dpkg-deb -x "$BDEB" "$WORK/b"
python3 "$HERE/mkguest.py" "$ARCH" "$WORK/k/boot/vmlinuz-"* "$WORK/b/bin/busybox" "$OUT"
{
    echo "$STAMP"
    echo "kernel  $KPKG $KVER sha256 $KSHA"
    echo "busybox $BPKG $BVER sha256 $BSHA"
} > "$OUT/VERSIONS"
ls -l "$OUT"
