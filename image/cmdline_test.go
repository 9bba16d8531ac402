package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// extents is gokrazy's fat.Reader.Extents (github.com/gokrazy/internal/fat,
// which only gokrazy's modules may import) for a file in the root
// directory: it reads FAT16's boot sector, counts ONE file allocation
// table (as gokrazy's own FAT writer makes) before the fixed root
// directory, and matches the 8.3 name.
func extents(r io.ReaderAt, name string) (offset, length int64, err error) {
	var bs [24]byte
	if _, err := r.ReadAt(bs[:], 0); err != nil {
		return 0, 0, err
	}
	sectorSize := int64(binary.LittleEndian.Uint16(bs[11:]))
	sectorsPerCluster := int64(bs[13])
	reserved := int64(binary.LittleEndian.Uint16(bs[14:]))
	rootEntries := int64(binary.LittleEndian.Uint16(bs[17:]))
	fatSectors := int64(binary.LittleEndian.Uint16(bs[22:]))
	dirOffset := (reserved + fatSectors) * sectorSize
	dataOffset := dirOffset + (rootEntries*32+sectorSize-1)/sectorSize*sectorSize
	base, ext, _ := strings.Cut(strings.ToUpper(name), ".")
	want := fmt.Sprintf("%-8s%-3s", base, ext)
	for i := int64(0); i < rootEntries; i++ {
		var e [32]byte
		if _, err := r.ReadAt(e[:], dirOffset+i*32); err != nil {
			return 0, 0, err
		}
		if e[0] == 0 || string(e[:11]) != want || e[11]&0x10 != 0 {
			continue
		}
		cluster := int64(binary.LittleEndian.Uint16(e[26:]))
		return dataOffset + (cluster-2)*sectorsPerCluster*sectorSize, int64(binary.LittleEndian.Uint32(e[28:])), nil
	}
	return 0, 0, fmt.Errorf("%s not found", name)
}

// rewriteCmdline is gokrazy's modifyCmdlineFile (update.go): read the
// file's recorded extent, replace, pad a shorter result with spaces
// before each newline, and write the result over the extent, however
// long it is.
func rewriteCmdline(t *testing.T, fatPath string, replace func([]byte) []byte) {
	t.Helper()
	f, err := os.OpenFile(fatPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off, length, err := extents(f, "cmdline.txt")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, length)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	rep := replace(b)
	if pad := len(b) - len(rep); pad > 0 {
		rep = bytes.ReplaceAll(rep, []byte{'\n'}, append(bytes.Repeat([]byte{' '}, pad), '\n'))
	}
	if _, err := f.WriteAt(rep, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readCmdline reads cmdline.txt as a boot loader does (through the FAT,
// with mtools) and as gokrazy's readCmdline does (its recorded extent).
func readCmdline(t *testing.T, fatPath string) (mtools, gokrazy string) {
	t.Helper()
	cmd := exec.Command("mtype", "-i", fatPath, "::cmdline.txt")
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mtype: %v", err)
	}
	f, err := os.Open(fatPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off, length, err := extents(f, "cmdline.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, length))
	if err != nil {
		t.Fatal(err)
	}
	return string(out), string(b)
}

var rootArgRe = regexp.MustCompile(`root=[^ ]+`)

// TestBootCmdlineTestboot: the boot partition's cmdline.txt leaves room
// for gokrazy's in-place rewrites. A test boot's flag (POST
// /update/testboot) lands inside the file's recorded size, the next
// boot's rewrite to switch_on_boot and the switch of the root partition
// (POST /update/switch) read back whole, and the FAT stays consistent.
func TestBootCmdlineTestboot(t *testing.T) {
	for _, tool := range []string{"mkfs.vfat", "mcopy", "mtype", "fsck.vfat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: run scripts/install-deps.sh", tool)
		}
	}
	dirs, err := moduleDirs()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := &Options{Instance: &Instance{Hostname: "spanvault-test"}, Target: VM, Log: io.Discard}
	boot := filepath.Join(dir, "boot")
	os.MkdirAll(boot, 0o755)
	const diskID = 0x1234abcd
	if err := o.stageBoot(boot, dirs["github.com/gokrazy/kernel.arm64"], "", diskID); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "boot.fat")
	if err := o.makeBootFAT(boot, img, diskID); err != nil {
		t.Fatal(err)
	}
	// The rewrites write past the file's recorded size: that must stay in
	// its cluster's slack, a dozen test boots long.
	var bs [14]byte
	f, _ := os.Open(img)
	f.ReadAt(bs[:], 0)
	f.Close()
	if cluster := int(binary.LittleEndian.Uint16(bs[11:])) * int(bs[13]); cluster < cmdlineSize+13*28 {
		t.Fatalf("clusters of %d bytes: a dozen test boots overflow cmdline.txt's %d bytes into the next cluster", cluster, cmdlineSize)
	}
	m, g := readCmdline(t, img)
	if m != g || len(g) != cmdlineSize {
		t.Fatalf("fresh cmdline.txt: mtools read %d bytes, gokrazy %d, want %d", len(m), len(g), cmdlineSize)
	}
	first := KernelCmdline([]byte(g))
	if !strings.Contains(first, "root=PARTUUID=1234abcd-02 ") || strings.Contains(first, "gokrazy.") {
		t.Fatalf("fresh kernel command line %q", first)
	}

	// POST /update/testboot: gokrazy's enableTestboot.
	rewriteCmdline(t, img, func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte{'\n'}, []byte(" gokrazy.try_boot_inactive=1\n"))
	})
	m, g = readCmdline(t, img)
	if m != g {
		t.Fatalf("after testboot mtools and gokrazy disagree:\n%q\n%q", m, g)
	}
	if got := KernelCmdline([]byte(g)); got != first+" gokrazy.try_boot_inactive=1" {
		t.Fatalf("after testboot the boot loader passes %q (the flag did not fit in the file)", got)
	}
	// The boot after: gokrazy's maybeSwitchToInactive.
	rewriteCmdline(t, img, func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte("gokrazy.try_boot_inactive=1"), []byte("gokrazy.switch_on_boot=1"))
	})
	// POST /update/switch: switchRootPartition(3).
	rewriteCmdline(t, img, func(b []byte) []byte {
		return rootArgRe.ReplaceAllLiteral(b, []byte("root=PARTUUID=1234abcd-03"))
	})
	m, g = readCmdline(t, img)
	want := strings.Replace(first, "-02 ", "-03 ", 1) + " gokrazy.switch_on_boot=1"
	if got := KernelCmdline([]byte(g)); m != g || got != want {
		t.Fatalf("after switch: %q, want %q", got, want)
	}
	if strings.Count(g, "\n") != 1 || len(g) != cmdlineSize {
		t.Fatalf("after switch cmdline.txt is %d bytes with %d newlines", len(g), strings.Count(g, "\n"))
	}
	// A dozen more test boots without a fresh boot partition still fit.
	for i := 0; i < 12; i++ {
		rewriteCmdline(t, img, func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte{'\n'}, []byte(" gokrazy.try_boot_inactive=1\n"))
		})
		_, g = readCmdline(t, img)
		if !strings.HasSuffix(KernelCmdline([]byte(g)), " gokrazy.try_boot_inactive=1") {
			t.Fatalf("test boot %d without a fresh boot partition: flag cut off: %q", i+2, KernelCmdline([]byte(g)))
		}
		rewriteCmdline(t, img, func(b []byte) []byte {
			return bytes.ReplaceAll(b, []byte("gokrazy.try_boot_inactive=1"), []byte("gokrazy.switch_on_boot=1"))
		})
	}
	if out, err := exec.Command("fsck.vfat", "-n", img).CombinedOutput(); err != nil {
		t.Fatalf("fsck.vfat after the rewrites: %v\n%s", err, out)
	}
}
