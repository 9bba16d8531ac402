package config

import (
	"errors"
	"fmt"
)

// Update configures firmware updates (appliance/update.go): the archive
// offers a signed update at check-in, the box downloads it inside its
// sync window into Dir, verifies it, writes it through the Installer and
// test-boots it. The update key is sync.update_key.
type Update struct {
	// Dir keeps the download in progress and the update state
	// (pending.json, confirmed.json); 0700. The image's init watches
	// the default, /perm/spanvault/update: keep it on a gokrazy box.
	Dir string `toml:"dir"`
	// Firmware is the identity of the build running, written by the
	// image builder (default /etc/spanvault/firmware.json; absent:
	// serial 0, which any update is above).
	Firmware string `toml:"firmware"`
	// Installer: "gokrazy" (the supervisor's update API, the default) or
	// "dir" (files in InstallerDir standing in for the partitions: tests
	// and development machines; its reboot only logs).
	Installer    string `toml:"installer"`
	InstallerDir string `toml:"installer_dir"`
	// Gokrazy is the supervisor's HTTP API: its Unix socket (default
	// /run/gokrazy-http.sock) or host:port; GokrazyPassword the file of
	// its password (default /etc/gokr-pw.txt).
	Gokrazy         string `toml:"gokrazy"`
	GokrazyPassword string `toml:"gokrazy_password"`
}

// DefaultUpdate is the [update] section on the image.
func DefaultUpdate() Update {
	return Update{Dir: "/perm/spanvault/update", Firmware: "/etc/spanvault/firmware.json", Installer: "gokrazy",
		Gokrazy: "/run/gokrazy-http.sock", GokrazyPassword: "/etc/gokr-pw.txt"}
}

func (u *Update) validate() error {
	if u.Dir == "" {
		return errors.New("config: update.dir: empty")
	}
	if u.Firmware == "" {
		return errors.New("config: update.firmware: empty")
	}
	switch u.Installer {
	case "gokrazy":
		if u.Gokrazy == "" || u.GokrazyPassword == "" {
			return errors.New("config: update.gokrazy: empty (gokrazy's socket, and update.gokrazy_password its password file)")
		}
	case "dir":
		if u.InstallerDir == "" {
			return errors.New("config: update.installer_dir: empty (installer \"dir\" writes the partitions there)")
		}
	default:
		return fmt.Errorf("config: update.installer: %q is not gokrazy or dir", u.Installer)
	}
	return nil
}
