package record

import (
	"slices"
	"testing"
)

// TestNumberFormsMeet: the ways people write one number meet in one
// form, and a record stored before numbers were canonical (NormalizeNumber
// of what the box saw) is found by a lookup in any form.
func TestNumberFormsMeet(t *testing.T) {
	forms := []string{"030 5550001", "0049 30 5550001", "+49 30 5550001", "+49 (30) 555-0001", "0305550001", "49305550001"}
	for _, f := range forms {
		if got := CanonicalNumber(f, "DE"); got != "49305550001" {
			t.Errorf("CanonicalNumber(%q, DE) = %q, want 49305550001", f, got)
		}
	}
	for _, stored := range forms {
		old := NormalizeNumber(stored)
		for _, q := range forms {
			if !slices.Contains(NumberForms(q, "DE"), old) {
				t.Errorf("a record stored as %q (%q) is not found by %q: forms %v", stored, old, q, NumberForms(q, "DE"))
			}
		}
	}
	// Extensions and names stay themselves.
	for in, want := range map[string]string{"2003": "2003", "20003": "20003", "alice": "alice", "": ""} {
		if got := CanonicalNumber(in, "DE"); got != want {
			t.Errorf("CanonicalNumber(%q) = %q, want %q", in, got, want)
		}
	}
	if err := CheckRegion("DE"); err != nil {
		t.Fatal(err)
	}
	if err := CheckRegion("Germany"); err == nil {
		t.Fatal("region Germany accepted")
	}
}

// TestDirectionOf: the branch's extensions decide the direction.
func TestDirectionOf(t *testing.T) {
	ext := []string{"2xxxx"}
	for _, c := range []struct{ from, to, want string }{
		{"+49305550001", "20001", DirInbound},
		{"20001", "+49305550001", DirOutbound},
		{"20001", "20002", DirInternal},
		{"+49305550001", "+49305550002", DirExternal},
	} {
		if got := DirectionOf(c.from, c.to, ext); got != c.want {
			t.Errorf("DirectionOf(%s, %s) = %s, want %s", c.from, c.to, got, c.want)
		}
	}
}
