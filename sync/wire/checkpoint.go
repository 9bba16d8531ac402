package wire

import (
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyCheckpoint opens a signed checkpoint (a sumdb note whose text is
// a tlog tree) with the anchor log's verifier key (anchor.vkey) and
// returns the tree it names. The box checks every checkpoint it is sent
// with it; the archive signs them (archive/anchor).
func VerifyCheckpoint(vkey string, signed []byte) (tlog.Tree, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("anchor: verifier key: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("anchor: checkpoint signature: %w", err)
	}
	return tlog.ParseTree([]byte(n.Text))
}
