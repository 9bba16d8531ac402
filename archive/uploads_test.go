package archive

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// The ingest limits: defaults for a file that does not set them, sizes
// read with units, and validation that names the field.
func TestIngestLimitsConfig(t *testing.T) {
	c := defaultConfig("a", "127.0.0.1:1")
	if time.Duration(c.PartialTTL) != 24*time.Hour || c.MaxRecording != 2<<30 || c.PartialQuota != 8<<30 || time.Duration(c.UploadStall) != 30*time.Second || c.UploadMinRate != 1<<10 {
		t.Fatalf("defaults %+v", c)
	}
	var f struct {
		MaxRecording Size `toml:"max_recording"`
		PartialQuota Size `toml:"partial_quota"`
	}
	if _, err := toml.Decode(`max_recording = "64KiB"`+"\n"+`partial_quota = "1GB"`, &f); err != nil || f.MaxRecording != 64<<10 || f.PartialQuota != 1e9 {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := toml.Decode(`max_recording = "lots"`, &f); err == nil {
		t.Fatal("a bad size read")
	}
	c.PartialQuota = c.MaxRecording - 1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "partial_quota") {
		t.Fatalf("quota under max_recording: %v", err)
	}
	c = defaultConfig("a", "127.0.0.1:1")
	c.UploadMinRate = 0
	c.PartialTTL = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "upload_min_rate") || !strings.Contains(err.Error(), "partial_ttl") {
		t.Fatalf("zero rate and ttl: %v", err)
	}
}
