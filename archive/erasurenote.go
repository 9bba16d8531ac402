package archive

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// erasureKeyFile is the archive's erasure-note signing key (Ed25519
// seed, base64, 0600), made by Init (at first use in archives made
// before), read by every front-end sharing the directory. The store keeps
// the notes where anyone with write access to it could add one; the
// replay at start applies only the notes this key signed.
const erasureKeyFile = "erasure.key"

// erasureNoteContext starts every signed erasure note's message: a
// signature of this key means nothing else.
const erasureNoteContext = "spanvault archive erasure note v1\n"

// erasureKey loads the erasure-note signing key, making it at first use.
func (a *Archive) erasureKey() (ed25519.PrivateKey, error) {
	p := filepath.Join(a.Dir, erasureKeyFile)
	if err := makeSeedFile(p); err != nil {
		return nil, fmt.Errorf("archive: erasure key: %w", err)
	}
	return readSeedKey(p, "erasure key")
}

// erasureNoteMessage is what the archive signs of a note: the context,
// then the note's fields (Sig and Bad aside) as JSON in a fixed order,
// the time in UTC.
func erasureNoteMessage(n store.Erasure) []byte {
	b, _ := json.Marshal(struct {
		SHA256    string    `json:"sha256"`
		Appliance string    `json:"appliance"`
		ID        string    `json:"id"`
		At        time.Time `json:"at"`
		By        string    `json:"by"`
	}{n.SHA256, n.Appliance, n.ID, n.At.UTC(), n.By})
	return append([]byte(erasureNoteContext), b...)
}

// noteErasure signs n and keeps it in the store (NoteErasure).
func (a *Archive) noteErasure(ctx context.Context, n store.Erasure) error {
	k, err := a.erasureKey()
	if err != nil {
		return err
	}
	n.Sig = ed25519.Sign(k, erasureNoteMessage(n))
	return a.Store.NoteErasure(ctx, n)
}

// unverified says why a note is not the archive's own ("" when its
// signature verifies under pub).
func unverified(n store.Erasure, pub ed25519.PublicKey) string {
	switch {
	case n.Bad != "":
		return "unreadable: " + n.Bad
	case len(n.Sig) == 0:
		return "unsigned (written before notes were signed, or by someone other than the archive)"
	case !ed25519.Verify(pub, erasureNoteMessage(n), n.Sig):
		return "its signature does not verify under the archive's erasure key"
	}
	return ""
}

// replayErasures applies every erasure note the store keeps to the index
// (and the store) before anything is served: an index restored from a
// backup taken before an erasure shows the recording erased again.
//
// Only the notes the archive signed are applied; any other is alerted
// (erasure_note_unverified) once per note and start, and left alone. A
// note is replayed as a live erasure is: refused and alerted
// (erasure_replay_refused) while the index holds the recording or a legal
// retention duty keeps it. No one note keeps the archive from starting:
// when the store cannot erase, the index still makes the recording
// unreachable (its tombstone), the erasure left pending is alerted
// (erasure_replay_pending) with the reason, and the store's erasure is
// tried again at every start until the object is gone.
func (a *Archive) replayErasures(ctx context.Context) error {
	notes, err := a.Store.Erasures(ctx)
	if err != nil {
		return fmt.Errorf("archive: erasure notes: %w", err)
	}
	if len(notes) == 0 {
		return nil
	}
	k, err := a.erasureKey()
	if err != nil {
		return err
	}
	pub := k.Public().(ed25519.PublicKey)
	for _, n := range notes {
		if why := unverified(n, pub); why != "" {
			a.Event(ctx, "erasure_note_unverified", "archive", n.Appliance, fmt.Sprintf("erasure note %s (%s/%s) not applied: %s", n.SHA256, n.Appliance, n.ID, why), true)
			continue
		}
		if err := a.replayNote(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// replayNote applies one signed note; it fails only when the index does.
func (a *Archive) replayNote(ctx context.Context, n store.Erasure) error {
	rs, err := a.Index.Records(ctx, index.Query{Appliance: n.Appliance, ID: n.ID, Kind: wire.KindRecording})
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.SHA256 != n.SHA256 {
			continue
		}
		if !r.DeletedAt.IsZero() {
			// Erased in the index: is the store's erasure still pending?
			if in, err := a.Store.Stat(ctx, r.SHA256); err == nil && (!in.Complete || in.Erased) {
				continue
			}
			if err := a.eraseObject(ctx, r.SHA256, n.At); err != nil && !errors.Is(err, store.ErrNotFound) {
				a.storePending(ctx, "erasure_replay_pending", "archive", n, err)
			}
			continue
		}
		if why := a.holds(r); why != "" {
			a.Event(ctx, "erasure_replay_refused", "archive", n.Appliance, fmt.Sprintf("%s: the erasure noted %s by %s is not replayed, the archive keeps its copy: %s", r.ID, n.At.UTC().Format(time.RFC3339), n.By, why), true)
			continue
		}
		eerr := a.eraseObject(ctx, r.SHA256, n.At)
		if err := a.Index.PutRecords(ctx, []index.Record{{Appliance: n.Appliance, ID: r.ID, Kind: wire.KindTombstone, Tombstone: index.TombstoneErased, Start: r.Start, Class: r.Class,
			DeletedAt: n.At, Entry: `{"reason":"erased by archive command (replayed after an index restore)"}`, ReceivedAt: a.Now()}}); err != nil {
			return err
		}
		a.Event(ctx, "erasure_replayed", "archive", n.Appliance, fmt.Sprintf("%s erased %s by %s; the index did not know (restored from a backup?)", r.ID, n.At.UTC().Format(time.RFC3339), n.By), true)
		if eerr != nil && !errors.Is(eerr, store.ErrNotFound) {
			a.storePending(ctx, "erasure_replay_pending", "archive", n, eerr)
		}
	}
	return nil
}
