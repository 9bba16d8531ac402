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
