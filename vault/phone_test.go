package vault

import (
	"slices"
	"testing"

	"github.com/spanvault/spanvault/record"
)

// TestPersonalCanonicalNumbers: a caller seen as "030 5550001" is sealed
// under the canonical form too (what the archive and a DPO's "+49 30
// 5550001" look up), and under the form seen.
func TestPersonalCanonicalNumbers(t *testing.T) {
	v := &Vault{opt: Options{PhoneRegion: "DE"}}
	p := v.personal(&record.Draft{Personal: record.Personal{From: "sip:0305550001@pbx.example", To: "sip:2001@pbx.example", Numbers: []string{"0305550001", "2001"}}})
	for _, want := range []string{"49305550001", "0305550001", "2001"} {
		if !slices.Contains(p.Numbers, want) {
			t.Errorf("sealed numbers %v lack %s", p.Numbers, want)
		}
	}
}
