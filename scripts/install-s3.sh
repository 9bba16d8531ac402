#!/usr/bin/env bash
# Installs versitygw (Apache-2.0), the S3 gateway with Object Lock the archive's S3 tests run
# against (see ../shared/notes/s3-archive-backends.md), from the Go module proxy, cached by
# version: a second run costs nothing. Prints the binary's path.
set -euo pipefail
ver=v1.8.0
dir=${SPANVAULT_CACHE:-$HOME/.cache/spanvault}/versitygw-$ver
if [ ! -x "$dir/versitygw" ]; then
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	echo "install-s3: building versitygw $ver (once; a few CPU-minutes)" >&2
	GOBIN="$dir.tmp" GOFLAGS=-modcacherw go install -trimpath -ldflags "-s -w" "github.com/versity/versitygw/cmd/versitygw@$ver"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
fi
echo "$dir/versitygw"
