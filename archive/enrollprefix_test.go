package archive

import "testing"

func TestSourcePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.77":              "192.0.2.0/24",
		"::ffff:192.0.2.9":        "192.0.2.0/24",
		"2001:db8:1:2:aaaa::1":    "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::ffff": "2001:db8:1:2::/64",
		"fe80::1%eth0":            "fe80::/64",
		"not an address":          "not an address",
		"2001:db8:1:3::1":         "2001:db8:1:3::/64",
	} {
		if got := sourcePrefix(in); got != want {
			t.Errorf("sourcePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrefixFull(t *testing.T) {
	var srcs []string
	for i := range MaxPendingPer48 {
		srcs = append(srcs, "2001:db8:7:"+string(rune('a'+i%6))+string(rune('a'+i/6%6))+string(rune('a'+i/36))+"::1")
	}
	if p, n, full := prefixFull(srcs, "2001:db8:7:ffff::9"); !full || p != "2001:db8:7::/48" || n != MaxPendingPer48 {
		t.Errorf("a full /48: %q %d %v", p, n, full)
	}
	if _, _, full := prefixFull(srcs, "2001:db8:8::9"); full {
		t.Error("the /48 beside it counted as full")
	}
	if p, _, full := prefixFull([]string{"192.0.2.1", "192.0.2.2"}, "192.0.2.3"); full {
		t.Errorf("two of a /24's 16: full at %s", p)
	}
}
