#!/usr/bin/env bash
# Installs the Debian packages the tests need (tshark as the reference decoder, sipp for live
# calls, chromium for the status page, qemu and filesystem tools for the image, qemu-user for
# the box's unit tests on arm64, PostgreSQL for
# the archive's shared index, age to open recordings with the standard tool, stress-ng to run
# the live tests with the machine kept busy: README, Tests). Idempotent:
# packages already present are not fetched again.
set -euo pipefail
pkgs=(tshark sip-tester chromium ffmpeg iproute2 nftables squashfs-tools mtools dosfstools fdisk e2fsprogs file qemu-system-arm qemu-user-static age postgresql stress-ng)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing ${missing[*]} and not root; install them or run as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
