package image

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Pinned versions of the data modules (the only ones the proxy serves).
var modules = map[string]string{
	"github.com/gokrazy/kernel.rpi":   "v0.0.0-20251127164438-9778ec0261de",
	"github.com/gokrazy/kernel.arm64": "v0.0.0-20260705071517-37841c4d6ff1",
	"github.com/gokrazy/firmware":     "v0.0.0-20260522070551-527ce0ed43cf",
	"github.com/gokrazy/rpi-eeprom":   "v0.0.0-20260518070910-95f7328a8228",
}

// Instance is the instance configuration, with gokrazy's config.json field
// names where they fit.
type Instance struct {
	Hostname        string                   `json:"Hostname"`
	Packages        []string                 `json:"Packages"`
	PackageConfig   map[string]PackageConfig `json:"PackageConfig"`
	SerialConsole   string                   `json:"SerialConsole"`
	KernelPackage   string                   `json:"KernelPackage"`
	FirmwarePackage string                   `json:"FirmwarePackage"`
	EEPROMPackage   string                   `json:"EEPROMPackage"`
	Update          struct {
		HTTPPassword string `json:"HTTPPassword"`
	} `json:"Update"`
}

// PackageConfig configures one program of the image.
type PackageConfig struct {
	CommandLineFlags []string          `json:"CommandLineFlags"`
	Environment      []string          `json:"Environment"`
	ExtraFilePaths   map[string]string `json:"ExtraFilePaths"` // path in the image -> file (relative to the config)
	WaitForClock     bool              `json:"WaitForClock"`
}

// Recorder is the package path of the recorder in Packages.
const Recorder = "github.com/spanvault/spanvault/cmd/spanvault"

// LoadInstance reads and checks an instance configuration.
func LoadInstance(path string) (*Instance, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var in Instance
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, "", fmt.Errorf("image: %s: %w", path, err)
	}
	if in.Hostname == "" {
		return nil, "", fmt.Errorf("image: %s: Hostname: empty", path)
	}
	found := false
	for _, p := range in.Packages {
		if p == Recorder {
			found = true
		} else {
			return nil, "", fmt.Errorf("image: %s: Packages: %q: only %s is built into this image", path, p, Recorder)
		}
	}
	if !found {
		return nil, "", fmt.Errorf("image: %s: Packages: must list %s", path, Recorder)
	}
	return &in, filepath.Dir(path), nil
}

// Target is what the image boots on.
type Target string

// Targets.
const (
	Pi Target = "rpi" // Raspberry Pi 4/5: kernel.rpi, firmware
	VM Target = "vm"  // qemu -M virt (arm64): kernel.arm64, same user space
)

// Options of a build.
type Options struct {
	Instance   *Instance
	ConfigDir  string // relative ExtraFilePaths start here
	Target     Target
	Out        string // the disk image; .root.squashfs and .boot.fat beside it
	Work       string // scratch directory
	RepoRoot   string // where go build runs
	SourceDate time.Time
	Size       int64 // disk image size, sparse (default 2 GiB)
	Log        io.Writer
	// Serial and Version name the build (/etc/spanvault/firmware.json, the
	// update manifest): inputs like the source date, so the root stays
	// reproducible. Serial 0 means the source date in Unix seconds (a
	// later commit builds a higher serial); Version "" means the source
	// date as 2006.01.02-150405.
	Serial  uint64
	Version string
}

// Result describes what was built.
type Result struct {
	Image      string        `json:"image"`
	Root       string        `json:"root"`
	Boot       string        `json:"boot"`
	RootSHA256 string        `json:"root_sha256"`
	RootSize   int64         `json:"root_size"`
	ImageSize  int64         `json:"image_size"` // apparent
	ImageUsed  int64         `json:"image_used"` // allocated (sparse)
	DiskID     uint32        `json:"disk_id"`
	Took       time.Duration `json:"took"`
	BootSHA256 string        `json:"boot_sha256"`
	BootSize   int64         `json:"boot_size"`
	Serial     uint64        `json:"serial"`
	Version    string        `json:"version"`
	Built      time.Time     `json:"built"` // the source date
}

// Partition layout in 512-byte sectors, as gok writes it.
const (
	bootStart  = 8192
	bootSize   = 204800 // 100 MiB
	rootAStart = bootStart + bootSize
	rootSize   = 1024000 // 500 MiB
	rootBStart = rootAStart + rootSize
	permStart  = rootBStart + rootSize
)

// Build builds the image.
func Build(o Options) (*Result, error) {
	t0 := time.Now()
	if o.Size == 0 {
		o.Size = 2 << 30
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.SourceDate.IsZero() {
		o.SourceDate = time.Unix(0, 0)
	}
	if o.Serial == 0 {
		o.Serial = 1
		if s := o.SourceDate.Unix(); s > 0 {
			o.Serial = uint64(s)
		}
	}
	if o.Version == "" {
		o.Version = o.SourceDate.UTC().Format("2006.01.02-150405")
	}
	if !versionRe.MatchString(o.Version) {
		return nil, fmt.Errorf("image: version %q: letters, digits and ._+- only, at most 64", o.Version)
	}
	for _, tool := range []string{"mksquashfs", "mkfs.vfat", "mcopy", "sfdisk", "mkfs.ext4"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("image: %s not installed (run scripts/install-deps.sh: squashfs-tools, dosfstools, mtools, fdisk, e2fsprogs)", tool)
		}
	}
	dirs, err := moduleDirs()
	if err != nil {
		return nil, err
	}
	kernel := dirs["github.com/gokrazy/kernel.rpi"]
	if o.Target == VM {
		kernel = dirs["github.com/gokrazy/kernel.arm64"]
	}
	root := filepath.Join(o.Work, "root")
	boot := filepath.Join(o.Work, "boot")
	os.RemoveAll(o.Work)
	for _, d := range []string{root, boot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	h := fnv.New32a()
	h.Write([]byte(o.Instance.Hostname))
	diskID := h.Sum32()
	if o.Instance.Update.HTTPPassword == "" {
		// Never ship a known password for gokrazy's update endpoint: make
		// one, and leave it beside the image for the operator.
		pw, err := randomPassword()
		if err != nil {
			return nil, err
		}
		o.Instance.Update.HTTPPassword = pw
		pwFile := strings.TrimSuffix(o.Out, ".img") + ".gokr-pw.txt"
		if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Log, "Update.HTTPPassword was empty: generated one, in %s (set it in the instance configuration for reproducible builds)\n", pwFile)
	}
	if err := o.stageRoot(root, kernel); err != nil {
		return nil, err
	}
	if err := o.stageBoot(boot, kernel, dirs["github.com/gokrazy/firmware"], diskID); err != nil {
		return nil, err
	}
	for _, d := range []string{root, boot} {
		if err := setTimes(d, o.SourceDate); err != nil {
			return nil, err
		}
	}
	res := &Result{Image: o.Out, Root: strings.TrimSuffix(o.Out, ".img") + ".root.squashfs", Boot: strings.TrimSuffix(o.Out, ".img") + ".boot.fat", DiskID: diskID,
		Serial: o.Serial, Version: o.Version, Built: o.SourceDate.UTC()}
	ts := fmt.Sprint(o.SourceDate.Unix())
	os.Remove(res.Root)
	if err := run(o.Log, "mksquashfs", root, res.Root, "-noappend", "-all-root", "-comp", "gzip", "-no-xattrs", "-quiet",
		"-mkfs-time", ts, "-all-time", ts); err != nil {
		return nil, err
	}
	if st, _ := os.Stat(res.Root); st != nil && st.Size() > rootSize*512 {
		return nil, fmt.Errorf("image: root file system of %d bytes exceeds its %d-byte partition", st.Size(), rootSize*512)
	}
	if err := o.makeBootFAT(boot, res.Boot, diskID); err != nil {
		return nil, err
	}
	if err := o.assemble(res, diskID); err != nil {
		return nil, err
	}
	if res.RootSHA256, res.RootSize, err = hashFile(res.Root); err != nil {
		return nil, err
	}
	if res.BootSHA256, res.BootSize, err = hashFile(res.Boot); err != nil {
		return nil, err
	}
	res.Took = time.Since(t0)
	return res, nil
}

// versionRe is what wire.UpdateManifest accepts as a version.
var versionRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("image: %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func randomPassword() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

func run(log io.Writer, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("image: %s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	if _, err := log.Write(out.Bytes()); err != nil {
		return fmt.Errorf("image: %s log: %w", name, err)
	}
	return nil
}

// moduleDirs downloads the pinned data modules and returns their
// directories in the module cache.
func moduleDirs() (map[string]string, error) {
	var args []string
	for m, v := range modules {
		args = append(args, m+"@"+v)
	}
	sort.Strings(args)
	out, err := exec.Command("go", append([]string{"mod", "download", "-json"}, args...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("image: go mod download: %w", err)
	}
	dirs := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct{ Path, Dir, Error string }
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		if m.Error != "" {
			return nil, fmt.Errorf("image: %s: %s", m.Path, m.Error)
		}
		dirs[m.Path] = m.Dir
	}
	return dirs, nil
}

// goBuild cross-compiles a package for the box: static, pure Go,
// reproducible.
func (o *Options) goBuild(pkg, out string, ldflags string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w "+ldflags, "-o", out, pkg)
	cmd.Dir = o.RepoRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("image: go build %s: %v\n%s", pkg, err, b.String())
	}
	return nil
}

func (o *Options) stageRoot(root, kernel string) error {
	in := o.Instance
	for _, d := range []string{"gokrazy", "user", "etc/ssl", "etc/spanvault", "proc", "sys", "dev", "tmp", "run", "perm", "mnt", "lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	stamp := o.SourceDate.UTC().Format(time.RFC3339)
	builds := []struct{ pkg, out, ld string }{
		{"./cmd/init", "gokrazy/init", "-X main.buildTimestamp=" + stamp},
		{"github.com/gokrazy/gokrazy/cmd/dhcp", "gokrazy/dhcp", ""},
		{"github.com/gokrazy/gokrazy/cmd/ntp", "gokrazy/ntp", ""},
		{"github.com/gokrazy/gokrazy/cmd/randomd", "gokrazy/randomd", ""},
		{"./cmd/spanvault", "user/spanvault", ""},
	}
	for _, b := range builds {
		fmt.Fprintf(o.Log, "building %s\n", b.pkg)
		if err := o.goBuild(b.pkg, filepath.Join(root, b.out), b.ld); err != nil {
			return err
		}
	}
	files := map[string]struct {
		data []byte
		mode fs.FileMode
	}{
		"etc/hostname":      {[]byte(in.Hostname + "\n"), 0o644},
		"etc/hosts":         {[]byte("127.0.0.1 localhost\n::1 localhost\n"), 0o644},
		"etc/http-port.txt": {[]byte("80\n"), 0o644},
	}
	if in.Update.HTTPPassword != "" {
		files["etc/gokr-pw.txt"] = struct {
			data []byte
			mode fs.FileMode
		}{[]byte(in.Update.HTTPPassword), 0o400}
	}
	for p, f := range files {
		if err := os.WriteFile(filepath.Join(root, p), f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(root, p), f.mode); err != nil {
			return err
		}
	}
	if ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		if err := os.WriteFile(filepath.Join(root, "etc/ssl/ca-bundle.pem"), ca, 0o644); err != nil {
			return err
		}
	}
	for link, target := range map[string]string{"etc/resolv.conf": "/tmp/resolv.conf", "var": "/perm/var"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			return err
		}
	}
	pc := in.PackageConfig[Recorder]
	flags := pc.CommandLineFlags
	if len(flags) == 0 {
		flags = []string{"run", "-config", "/etc/spanvault/spanvault.toml"}
	}
	svc := []map[string]any{{"path": "/user/spanvault", "flags": flags, "environment": pc.Environment, "wait_for_clock": pc.WaitForClock}}
	sj, _ := json.MarshalIndent(svc, "", "  ")
	if err := os.WriteFile(filepath.Join(root, "etc/spanvault/init.json"), sj, 0o644); err != nil {
		return err
	}
	// The build the box runs (it reports it at check-in and installs only
	// a higher serial).
	fj, _ := json.Marshal(Firmware{Serial: o.Serial, Version: o.Version, Arch: "arm64"})
	if err := os.WriteFile(filepath.Join(root, FirmwareFile), append(fj, '\n'), 0o644); err != nil {
		return err
	}
	// Provisioning files (configuration, archive recipient, appliance
	// certificate and key): readable by root only.
	var paths []string
	for p := range pc.ExtraFilePaths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		src := pc.ExtraFilePaths[p]
		if !filepath.IsAbs(src) {
			src = filepath.Join(o.ConfigDir, src)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("image: PackageConfig.ExtraFilePaths[%q]: %w", p, err)
		}
		dst := filepath.Join(root, strings.TrimPrefix(filepath.Clean(p), "/"))
		if !strings.HasPrefix(dst, root+string(filepath.Separator)) {
			return fmt.Errorf("image: PackageConfig.ExtraFilePaths[%q]: outside the root", p)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return err
		}
		if err := os.Chmod(dst, 0o600); err != nil {
			return err
		}
	}
	// Kernel modules for this kernel.
	if _, err := os.Stat(filepath.Join(kernel, "lib", "modules")); err == nil {
		if err := copyTree(filepath.Join(kernel, "lib", "modules"), filepath.Join(root, "lib", "modules")); err != nil {
			return err
		}
	}
	return nil
}

func (o *Options) stageBoot(boot, kernel, firmware string, diskID uint32) error {
	console := "console=tty1"
	switch sc := o.Instance.SerialConsole; {
	case o.Target == VM:
		console = "console=ttyAMA0,115200"
	case sc != "" && sc != "disabled":
		console = "console=tty1 console=" + sc
	}
	cmdline := fmt.Sprintf("%s root=PARTUUID=%08x-02 ro init=/gokrazy/init rootwait panic=10 oops=panic\n", console, diskID)
	if err := os.WriteFile(filepath.Join(boot, "cmdline.txt"), padCmdline(cmdline), 0o644); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(kernel, "vmlinuz"), filepath.Join(boot, "vmlinuz")); err != nil {
		return err
	}
	if o.Target == VM {
		return nil
	}
	cfg, err := os.ReadFile(filepath.Join(kernel, "config.txt"))
	if err != nil {
		return err
	}
	if o.Instance.SerialConsole != "" && o.Instance.SerialConsole != "disabled" {
		cfg = bytes.Replace(cfg, []byte("enable_uart=0"), []byte("enable_uart=1"), 1)
	}
	if err := os.WriteFile(filepath.Join(boot, "config.txt"), cfg, 0o644); err != nil {
		return err
	}
	dtbs, _ := filepath.Glob(filepath.Join(kernel, "*.dtb"))
	for _, d := range dtbs {
		if err := copyFile(d, filepath.Join(boot, filepath.Base(d))); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(kernel, "overlays")); err == nil {
		if err := copyTree(filepath.Join(kernel, "overlays"), filepath.Join(boot, "overlays")); err != nil {
			return err
		}
	}
	fw, _ := filepath.Glob(filepath.Join(firmware, "*"))
	for _, f := range fw {
		base := filepath.Base(f)
		if base == "bootcode.bin" || strings.HasPrefix(base, "start") && strings.HasSuffix(base, ".elf") || strings.HasPrefix(base, "fixup") && strings.HasSuffix(base, ".dat") {
			if err := copyFile(f, filepath.Join(boot, base)); err != nil {
				return err
			}
		}
	}
	return nil
}

// bootFATKiB sizes the boot file system for the files under dir: their
// clusters, a quarter more and 4 MiB for directories and later growth, at
// least 16 MiB (FAT16 needs 4085 clusters), at most the partition.
func bootFATKiB(dir string) (int64, error) {
	const cluster = 2048
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n += cluster // its directory entry's share, or a directory's cluster
		if d.Type().IsRegular() {
			st, err := d.Info()
			if err != nil {
				return err
			}
			n += (st.Size() + cluster - 1) / cluster * cluster
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	kib := (n+n/4)/1024 + 4096
	kib = (kib + 1023) / 1024 * 1024
	if kib < 16<<10 {
		kib = 16 << 10
	}
	if kib > bootSize/2 {
		return 0, fmt.Errorf("image: boot files of %d bytes exceed the %d-byte boot partition", n, bootSize*512)
	}
	return kib, nil
}

func (o *Options) makeBootFAT(boot, out string, diskID uint32) error {
	os.Remove(out)
	// FAT16 with one allocation table, as gokrazy's own FAT writer makes
	// it: gokrazy's in-place cmdline.txt rewrite (fat.Reader, on
	// /update/testboot, /update/switch and at boot) finds the root
	// directory after exactly one table, and reads only FAT16's; 2 KiB
	// clusters keep that rewrite's overflow inside cmdline.txt's cluster.
	// The file system is as large as its files need, not the partition:
	// it is what an update downloads.
	kib, err := bootFATKiB(boot)
	if err != nil {
		return err
	}
	if err := run(o.Log, "mkfs.vfat", "-F", "16", "-f", "1", "-s", "4", "-C", "-i", fmt.Sprintf("%08x", diskID), "-n", "GOKRAZY", out, fmt.Sprint(kib)); err != nil {
		return err
	}
	ents, err := os.ReadDir(boot)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		names = append(names, filepath.Join(boot, e.Name()))
	}
	sort.Strings(names)
	args := append([]string{"-s", "-m", "-i", out}, names...)
	args = append(args, "::/")
	cmd := exec.Command("mcopy", args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("image: mcopy: %v: %s", err, b)
	}
	return nil
}

func (o *Options) assemble(res *Result, diskID uint32) error {
	os.Remove(res.Image)
	f, err := os.OpenFile(res.Image, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := f.Truncate(o.Size); err != nil {
		f.Close()
		return err
	}
	f.Close()
	layout := fmt.Sprintf("label: dos\nlabel-id: 0x%08x\nstart=%d, size=%d, type=c, bootable\nstart=%d, size=%d, type=83\nstart=%d, size=%d, type=83\nstart=%d, type=83\n",
		diskID, bootStart, bootSize, rootAStart, rootSize, rootBStart, rootSize, permStart)
	cmd := exec.Command("sfdisk", "-q", res.Image)
	cmd.Stdin = strings.NewReader(layout)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("image: sfdisk: %v: %s", err, b)
	}
	for _, part := range []struct {
		file  string
		start int64
	}{{res.Boot, bootStart}, {res.Root, rootAStart}} {
		if err := writeAt(res.Image, part.file, part.start*512); err != nil {
			return err
		}
	}
	// /perm: nothing on the box formats it.
	permKiB := (o.Size - permStart*512) / 1024
	if err := run(o.Log, "mkfs.ext4", "-q", "-F", "-L", "perm", "-E", fmt.Sprintf("offset=%d", permStart*512), res.Image, fmt.Sprintf("%dk", permKiB)); err != nil {
		return err
	}
	st, err := os.Stat(res.Image)
	if err != nil {
		return err
	}
	res.ImageSize = st.Size()
	res.ImageUsed = allocated(st)
	return nil
}

func writeAt(image, file string, off int64) error {
	src, err := os.Open(file)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(image, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := dst.Seek(off, io.SeekStart); err != nil {
		dst.Close()
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		default:
			return copyFile(p, target)
		}
	})
}

// setTimes gives every file and directory the source date, so that file
// system images do not depend on when they were built.
func setTimes(dir string, t time.Time) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	// Deepest first, so that setting a file's time does not change its
	// directory's afterwards.
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for _, p := range paths {
		if err := lchtimes(p, t); err != nil {
			return err
		}
	}
	return nil
}
