#!/usr/bin/env bash
# Builds SeaweedFS (Apache-2.0), the distributed object store make cluster runs the archive on
# (see ../shared/notes/s3-archive-backends.md), from the Go module proxy, cached by version: a
# second run costs nothing. 'go install' is refused (its go.mod has a replace directive), so it
# is built inside the downloaded module. About 20 CPU-minutes the first time. Prints the path.
set -euo pipefail
ver=v0.0.0-20261109003541-7506e5f91cd6
dir=${SPANVAULT_CACHE:-$HOME/.cache/spanvault}/weed-$ver
if [ ! -x "$dir/weed" ]; then
	echo "install-seaweedfs: building SeaweedFS $ver (once; about 20 CPU-minutes)" >&2
	src=$(cd /tmp && GOFLAGS=-modcacherw go mod download -json "github.com/seaweedfs/seaweedfs@$ver" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
	mkdir -p "$dir"
	(cd "$src" && GOFLAGS=-modcacherw go build -trimpath -ldflags "-s -w" -o "$dir/weed.tmp" ./weed)
	mv "$dir/weed.tmp" "$dir/weed"
fi
echo "$dir/weed"
