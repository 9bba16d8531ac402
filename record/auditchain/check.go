package auditchain

import (
	"crypto/ed25519"
	"fmt"
)

// CheckLinks checks that entries follow prev (the hash of the entry
// before the first) one by one, each carrying its own correct hash, and
// that head signs the last of them with pub. It returns a *BrokenError
// naming the first entry that does not hold.
func CheckLinks(prev string, firstSeq uint64, entries []Entry, head Head, pub ed25519.PublicKey) error {
	want := firstSeq
	for _, e := range entries {
		if e.Seq != want {
			return &BrokenError{Seq: want, Reason: fmt.Sprintf("entry %d where %d was expected", e.Seq, want)}
		}
		if e.SelfHash() != e.Hash {
			return &BrokenError{Seq: e.Seq, Reason: "entry content does not match its hash (edited)"}
		}
		if e.Prev != prev {
			return &BrokenError{Seq: e.Seq, Reason: "link to the previous entry does not match (rewritten, removed or forked)"}
		}
		prev = e.Hash
		want++
	}
	if !ed25519.Verify(pub, HeadMessage(head), head.Signature) {
		return &BrokenError{Seq: head.Seq, Reason: "head signature invalid (not the pinned key)"}
	}
	if head.Seq != want-1 || head.Hash != prev {
		return &BrokenError{Seq: head.Seq, Reason: "signed head does not end the entries sent"}
	}
	return nil
}
