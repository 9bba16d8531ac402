package config_test

import (
	"strings"
	"testing"

	"github.com/spanvault/spanvault/appliance/config"
)

const minimal = `
[vault]
dir = "/perm/spanvault/vault"
recipients = "/perm/spanvault/recipients.txt"
`

func TestMinimal(t *testing.T) {
	t.Parallel()
	c, err := config.Parse([]byte(minimal), "/")
	if err != nil {
		t.Fatal(err)
	}
	if c.Retention.DefaultClass != "default" || c.Status.Listen == "" || c.Capture.MediaTimeout == 0 {
		t.Fatalf("defaults not filled: %+v", c)
	}
}

// TestErrorsNameTheField: every invalid setting is refused with an error
// that names it.
func TestErrorsNameTheField(t *testing.T) {
	t.Parallel()
	const base = "[vault]\ndir = \"d\"\nrecipients = \"r\"\n"
	for _, tc := range []struct{ text, field string }{
		{"[vault]\nrecipients = \"r\"\ndir = \"\"", "vault.dir"},
		{"[vault]\ndir = \"d\"\nrecipients = \"r\"\nhigh_water = 1.5", "vault.high_water"},
		{"[vault]\ndir = \"d\"\nrecipients = \"r\"\nlow_water = 0.95", "vault.low_water"},
		{minimal + "\n[capture]\nlocal_nets = [\"10.0.0.0/33\"]", "capture.local_nets[0]"},
		{minimal + "\n[capture]\nmedia_timeout = \"1s\"", "capture.media_timeout"},
		{minimal + "\n[capture]\nblock_size = \"100KB\"", "capture.block_size"},
		{minimal + "\n[capture]\nnice = -30", "capture.nice"},
		{minimal + "\n[capture]\nmax_unexplained_packets = -1", "capture.max_unexplained_packets"},
		{minimal + "\n[capture]\nmedia_timeout = \"soon\"", "media_timeout"},
		{minimal + "\n[capture]\nbogus = 1", "capture.bogus"},
		{minimal + "\n[retention]\ndefault_class = \"x\"\n[[retention.class]]\nname = \"y\"\nrecord = true\nmax_age = \"90d\"", "retention.default_class"},
		{minimal + "\n[retention]\ndefault_class = \"y\"\n[[retention.class]]\nname = \"y\"\nrecord = true", "retention.class[0].max_age"},
		{minimal + "\n[retention]\ndefault_class = \"y\"\n[[retention.class]]\nname = \"y\"\nrecord = true\nmax_age = \"1d\"\n[[retention.rule]]\nclass = \"z\"", "retention.rule[0].class"},
		{minimal + "\n[retention]\ndefault_class = \"y\"\n[[retention.class]]\nname = \"y\"\nrecord = true\nmax_age = \"1d\"\n[[retention.rule]]\nclass = \"y\"\npercent = 150.0", "retention.rule[0].percent"},
		{minimal + "\n[[api.token]]\nname = \"crm\"\nrole = \"root\"\nsha256 = \"00\"", "api.token[0].role"},
		{minimal + "\n[[api.token]]\nname = \"crm\"\nrole = \"agent\"\nsha256 = \"secret\"", "api.token[0].sha256"},
		{minimal + "\n[status]\nlisten = \"everywhere\"", "status.listen"},
		{minimal + "\n[log]\nlevel = \"loud\"", "log.level"},
		{"[vault\n", "line "},
		{base + "[sync]\narchives = [\"a:1\"]\ncert = \"c\"\nkey = \"k\"\nca = \"ca\"", "sync.name"},
		{base + "[sync]\nname = \"b\"\narchives = [\"nohost\"]\ncert = \"c\"\nkey = \"k\"\nca = \"ca\"", "sync.archives[0]"},
		{base + "[sync]\nname = \"b\"\narchives = [\"a:1\"]\nkey = \"k\"\nca = \"ca\"", "sync.cert"},
		{base + "[sync]\nname = \"b\"\narchives = [\"a:1\"]\ncert = \"c\"\nkey = \"k\"\nca = \"ca\"\nwindow = \"25:00-26:00\"", "sync.window"},
		{base + "[sync]\nname = \"b\"\narchives = [\"a:1\"]\ncert = \"c\"\nkey = \"k\"\nca = \"ca\"\ncheck_in_every = \"1s\"", "sync.check_in_every"},
	} {
		_, err := config.Parse([]byte(tc.text), "/")
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%q: error %v does not name %s", tc.text, err, tc.field)
		}
	}
}

func TestSizes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"1024": 1024, "64KiB": 65536, "1MB": 1e6, "2 GiB": 2 << 30} {
		if got, err := config.ParseSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	if _, err := config.ParseSize("-1"); err == nil {
		t.Error("negative size accepted")
	}
}

// TestExampleConfigs: the shipped examples parse and validate.
func TestExampleConfigs(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"../../configs/minimal.toml", "../../configs/full.toml"} {
		if _, err := config.Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
