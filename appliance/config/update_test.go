package config_test

import (
	"strings"
	"testing"

	"github.com/spanvault/spanvault/appliance/config"
)

// TestUpdateSection: firmware updates' settings have defaults for the
// image, take paths relative to the file, and refuse what cannot work.
func TestUpdateSection(t *testing.T) {
	c, err := config.Parse([]byte(minimal), "/")
	if err != nil {
		t.Fatal(err)
	}
	if c.Update.Dir != "/perm/spanvault/update" || c.Update.Firmware != "/etc/spanvault/firmware.json" || c.Update.Installer != "gokrazy" ||
		c.Update.Gokrazy != "/run/gokrazy-http.sock" || c.Update.GokrazyPassword != "/etc/gokr-pw.txt" {
		t.Fatalf("defaults %+v", c.Update)
	}
	c, err = config.Parse([]byte(minimal+`
[sync]
name = "b"
archives = ["a:1"]
cert = "c"
key = "k"
ca = "ca"
update_key = "update.pub"

[update]
dir = "upd"
firmware = "fw.json"
installer = "dir"
installer_dir = "parts"
`), "/cfg")
	if err != nil {
		t.Fatal(err)
	}
	if c.Sync.UpdateKey != "/cfg/update.pub" || c.Update.Dir != "/cfg/upd" || c.Update.Firmware != "/cfg/fw.json" || c.Update.InstallerDir != "/cfg/parts" {
		t.Fatalf("paths %+v %q", c.Update, c.Sync.UpdateKey)
	}
	for _, tc := range []struct{ text, field string }{
		{"[update]\ninstaller = \"flash\"", "update.installer"},
		{"[update]\ninstaller = \"dir\"", "update.installer_dir"},
		{"[update]\ndir = \"\"", "update.dir"},
		{"[update]\ngokrazy = \"\"", "update.gokrazy"},
	} {
		_, err := config.Parse([]byte(minimal+tc.text), "/")
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%q: %v (want an error naming %s)", tc.text, err, tc.field)
		}
	}
}
