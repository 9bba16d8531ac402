package vault

import (
	"sort"

	"github.com/spanvault/spanvault/record"
)

// personal is personalOf with every number also in its canonical form
// (record.CanonicalNumber, national numbers read in Options.PhoneRegion),
// the form the archive indexes and looks up, so that "030 5550001" seen
// on the wire and "+49 30 5550001" asked for by the DPO meet. The form
// as seen stays: lookups made before numbers were canonical still match.
func (v *Vault) personal(d *record.Draft) *Personal {
	p := personalOf(d)
	seen := map[string]bool{}
	for _, n := range p.Numbers {
		seen[n] = true
	}
	for _, n := range append([]string(nil), p.Numbers...) {
		if cn := record.CanonicalNumber(n, v.opt.PhoneRegion); cn != "" && !seen[cn] {
			seen[cn] = true
			p.Numbers = append(p.Numbers, cn)
		}
	}
	sort.Strings(p.Numbers)
	return p
}
