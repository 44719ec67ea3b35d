#!/usr/bin/env bash
# Builds a local stand-in for the public base image of a kubetfx stack, for
# machines that cannot pull images from a registry (the test machines).
#
#   scripts/build-local-base-image.sh [STACK [IMAGE_NAME [DEBIAN_MIRROR]]]
#
# STACK is 1.21 (default) or 1.16:
# - 1.21: Debian 13 (trixie) with Debian's Python 3.13, a stand-in for
#   debian:trixie-slim with python3 installed; IMAGE_NAME defaults to
#   kubetfx-local/debian:trixie.
# - 1.16: Debian 12 (bookworm) plus this machine's pyenv Python 3.10 copied to
#   /usr/local, as the official python:3.10-slim-bookworm lays it out; needs
#   pyenv with 3.10.13. IMAGE_NAME defaults to kubetfx-local/python:3.10.
# DEBIAN_MIRROR is the archive debootstrap downloads from; by default the
# machine's own, the first Debian archive in its apt sources
# (/etc/apt/sources.list.d/*.sources or /etc/apt/sources.list), as a proxy or
# local mirror is often the only one a build machine can reach. The image's apt
# sources name it too, so a build can install more from it.
#
# Needs root, debootstrap and a running Docker engine.
set -euo pipefail

# The first URI of a "deb" source whose suites are Debian's own (bookworm,
# not bookworm-security), in deb822 files then in one-line sources.
apt_mirror() {
  local file
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      /(^|\n)Types:[^\n]*deb([ \t\n]|$)/ && /(^|\n)Suites:[ \t]*[a-z]+([ \t\n]|$)/ {
        for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); print u[2]; exit } }' "$file"
  done
  if [ -f /etc/apt/sources.list ]; then
    awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
      /etc/apt/sources.list
  fi
}

stack=${1:-1.21}
case "$stack" in
  1.21) image=${2:-kubetfx-local/debian:trixie} ;;
  1.16) image=${2:-kubetfx-local/python:3.10} ;;
  *)
    echo "build-local-base-image: STACK is 1.21 or 1.16, got $stack" >&2
    exit 2
    ;;
esac
mirror=${3:-$(apt_mirror | head -n 1)}
if [ -z "$mirror" ]; then
  echo "build-local-base-image: no Debian archive in this machine's apt sources; pass one: $0 $stack $image http://deb.debian.org/debian" >&2
  exit 2
fi
docker=${DOCKER:-/usr/bin/docker}
rootfs=$(mktemp -d /tmp/kubetfx-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

if [ "$stack" = 1.21 ]; then
  # Debian's own Python 3.13, with venv; libgomp1 is OpenMP, which TensorFlow loads.
  debootstrap --variant=minbase --include=passwd,ca-certificates,python3,python3-venv,libgomp1 \
    trixie "$rootfs" "$mirror" >/dev/null
  chroot "$rootfs" /usr/bin/python3 -c "import ssl, sqlite3, ctypes, venv"
else
  python_prefix=$(PYENV_VERSION=3.10.13 pyenv prefix 3.10.13)
  debootstrap --variant=minbase \
    --include=passwd,ca-certificates,libssl3,libexpat1,libsqlite3-0,libreadline8,libncursesw6,libffi8,libbz2-1.0,liblzma5,zlib1g \
    bookworm "$rootfs" "$mirror" >/dev/null
  # Python 3.10 without its test suite, Tk, IDLE and the static library.
  for part in bin include lib share; do
    cp -a "$python_prefix/$part/." "$rootfs/usr/local/$part/"
  done
  rm -rf "$rootfs"/usr/local/lib/python3.10/{test,idlelib,tkinter,turtledemo,lib2to3/tests} \
    "$rootfs"/usr/local/lib/python3.10/config-3.10-*/libpython3.10.a \
    "$rootfs"/usr/local/lib/python3.10/site-packages/*
  find "$rootfs/usr/local/lib/python3.10" -name __pycache__ -prune -exec rm -rf {} +
  ln -sf python3.10 "$rootfs/usr/local/bin/python3"
  ln -sf python3.10 "$rootfs/usr/local/bin/python"
  # pyenv's binaries look for libpython in their build prefix; point the linker at /usr/local/lib.
  echo /usr/local/lib > "$rootfs/etc/ld.so.conf.d/usr-local.conf"
  chroot "$rootfs" /sbin/ldconfig
  chroot "$rootfs" /usr/local/bin/python3 -c "import ssl, sqlite3, ctypes, venv"
fi
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

tar -C "$rootfs" -c . | "$docker" import --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$image" >/dev/null
echo "built $image"
