// Command mkimage builds the spanvault gokrazy disk image ("make image",
// "make image-vm"): see package image. Beside the image it writes the
// build as an update (IMAGE.update/: root.squashfs, boot.fat and
// update.json, signed with -update-key, or update.unsigned.json without
// one) for `spanvault-archive update publish -dir`.
package main

import (
	"compress/gzip"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/image"
)

func main() {
	cfg := flag.String("config", "image/instance/config.json", "instance configuration (gokrazy config.json field names)")
	target := flag.String("target", "rpi", "rpi (Raspberry Pi 4/5) or vm (qemu -M virt, arm64)")
	out := flag.String("o", "", "disk image to write (default build/spanvault-TARGET.img); .root.squashfs and .boot.fat beside it")
	size := flag.String("size", "2G", "disk image size (sparse)")
	compress := flag.Bool("gz", true, "also write IMAGE.gz (what is shipped to a branch) and report its size")
	serial := flag.Uint64("serial", 0, "the build's serial (boxes install only a higher one; default: the source date in Unix seconds)")
	version := flag.String("version", "", "the build's version name (default: the source date, 2006.01.02-150405)")
	updateKey := flag.String("update-key", "", "the archive's update.key (base64 Ed25519 seed, 0600): sign the update with it")
	updateDir := flag.String("update-dir", "", "where to write the update (update.json, root.squashfs, boot.fat; default IMAGE without .img plus .update)")
	flag.Parse()
	in, dir, err := image.LoadInstance(*cfg)
	if err != nil {
		fail(err)
	}
	if *out == "" {
		*out = filepath.Join("build", "spanvault-"+*target+".img")
	}
	sz, err := parseSize(*size)
	if err != nil {
		fail(err)
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fail(err)
	}
	var key ed25519.PrivateKey
	if *updateKey != "" {
		if key, err = image.LoadUpdateKey(*updateKey); err != nil {
			fail(err)
		}
	}
	if *updateDir == "" {
		*updateDir = strings.TrimSuffix(*out, ".img") + ".update"
	}
	repo, _ := os.Getwd()
	res, err := image.Build(image.Options{
		Instance: in, ConfigDir: dir, Target: image.Target(*target), Out: *out,
		Work: filepath.Join(filepath.Dir(*out), "image-"+*target), RepoRoot: repo,
		SourceDate: sourceDate(), Size: sz, Log: os.Stderr, Serial: *serial, Version: *version,
	})
	if err != nil {
		fail(err)
	}
	manifest, err := image.WriteUpdate(res, *updateDir, key)
	if err != nil {
		fail(err)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
	gz := int64(0)
	if *compress {
		if gz, err = gzipFile(res.Image); err != nil {
			fail(err)
		}
		fmt.Printf("compressed: %s.gz, %d bytes\n", res.Image, gz)
	}
	if key == nil {
		fmt.Printf("update serial %d (%s): %s is UNSIGNED (no -update-key): no box installs it; sign with the archive's update.key\n", res.Serial, res.Version, manifest)
	} else {
		fmt.Printf("update serial %d (%s), signed: %s\n", res.Serial, res.Version, manifest)
	}
	fmt.Printf("root file system sha256 %s (%d bytes); image %s: %d bytes sparse, %d allocated; built in %s\n",
		res.RootSHA256, res.RootSize, res.Image, res.ImageSize, res.ImageUsed, res.Took.Round(time.Millisecond))
}

// sourceDate is SOURCE_DATE_EPOCH, or the last commit's time: the same
// commit builds the same root.
func sourceDate() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0)
		}
	}
	if out, err := exec.Command("git", "log", "-1", "--format=%ct").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil {
			return time.Unix(n, 0)
		}
	}
	return time.Unix(0, 0)
}

// gzipFile writes path.gz and returns its size.
func gzipFile(path string) (int64, error) {
	in, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(path + ".gz")
	if err != nil {
		return 0, err
	}
	zw, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
	if _, err := io.Copy(zw, in); err != nil {
		out.Close()
		return 0, err
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return 0, err
	}
	st, err := out.Stat()
	out.Close()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("-size: %q is not a size like 2G", s)
	}
	return n * mult, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mkimage:", err)
	os.Exit(1)
}
