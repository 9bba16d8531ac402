package archive

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/anchor"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/record/ledger"
	"github.com/spanvault/spanvault/sync/wire"
)

// Coverage ledgers (record/ledger): each box sends, once a night, a
// ledger of the day it signed with its pinned audit key. The archive
// keeps it byte for byte, puts it in the anchor log under
// "ledger:NAME" (ledger.AnchorText) together with one record per
// recording it lists under "recording:NAME" (ledger.RecordingText), and
// answers with the ledger's inclusion proof. Verify checks the archive's
// holdings against every ledger (CheckLedgers).

// LedgerName and RecordingName are the names a box's ledgers and the
// recordings they list have in the anchor log.
func LedgerName(box string) string    { return "ledger:" + box }
func RecordingName(box string) string { return "recording:" + box }

func (a *Archive) ledgerUpload(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), applianceOf(r)
	var m wire.LedgerUpload
	if err := wire.Decode(r.Body, &m); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := wire.ValidateLedger(&m); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	ap, err := a.Index.Appliance(ctx, name)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if len(ap.AuditKey) != ed25519.PublicKeySize {
		fail(w, http.StatusConflict, "no audit key pinned for this appliance yet: anchor the audit chain first")
		return
	}
	l, err := m.Open(ed25519.PublicKey(ap.AuditKey))
	if err != nil {
		msg := "coverage ledger refused: " + err.Error()
		a.Event(ctx, "ledger_refused", name, name, msg, true)
		fail(w, http.StatusConflict, msg)
		return
	}
	if l.Appliance != name {
		fail(w, http.StatusForbidden, fmt.Sprintf("%s: certificate names %q, ledger claims %q", RefuseName, name, l.Appliance))
		return
	}
	day, _ := time.Parse(time.DateOnly, l.Day)
	if !day.Add(24 * time.Hour).Before(a.Now().Add(time.Duration(a.Config.MaxClockSkew))) {
		fail(w, http.StatusBadRequest, fmt.Sprintf("coverage ledger of %s: the day is not over", l.Day))
		return
	}
	hash := ledger.Hash(m.Ledger)
	signed, _ := jsonMarshal(&m)
	held, err := a.Index.PutLedger(ctx, index.Ledger{Appliance: name, Day: l.Day, Hash: hash, Signed: signed, ReceivedAt: a.Now()})
	if errors.Is(err, index.ErrLedgerDiffers) {
		msg := fmt.Sprintf("coverage ledger of %s differs from the one held since %s (a day's ledger is sealed once)", l.Day, held.ReceivedAt.Format(time.RFC3339))
		a.Event(ctx, "ledger_refused", name, name, msg, true)
		fail(w, http.StatusConflict, msg)
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	n, recs := held.AnchorN, 0
	for _, it := range l.Items {
		if it.SHA256 != "" {
			recs++
		}
	}
	if n < 0 {
		rs := []anchor.Record{{Appliance: LedgerName(name), Seq: uint64(day.Unix() / 86400), Text: ledger.AnchorText(name, l.Day, hash)}}
		for _, it := range l.Items {
			if it.SHA256 == "" {
				continue
			}
			eh, err := a.entryHash(ctx, name, it.ID, it.SHA256)
			if err != nil {
				a.internal(w, r, err)
				return
			}
			rs = append(rs, anchor.Record{Appliance: RecordingName(name), Seq: uint64(len(rs)), Text: ledger.RecordingText(name, it.ID, it.SHA256, eh)})
		}
		if n, err = a.Log.AppendBatch(ctx, rs); err != nil {
			a.internal(w, r, err)
			return
		}
		if err := a.Index.SetLedgerAnchor(ctx, name, l.Day, n); err != nil {
			a.internal(w, r, err)
			return
		}
		a.Event(ctx, "ledger_anchored", name, name, fmt.Sprintf("coverage ledger of %s (%d dialogs, %d recordings) at log record %d", l.Day, len(l.Items), recs, n), false)
	}
	cp, err := a.checkpoint(ctx)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p, err := a.Log.ProveRecord(ctx, cp.Size, n)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := wire.LedgerReply{Index: n, Checkpoint: cp, Recordings: recs}
	for _, h := range p {
		out.Inclusion = append(out.Inclusion, append([]byte(nil), h[:]...))
	}
	reply(w, out)
}

// maxLedgerProblems is how many problems CheckLedgers names per ledger.
const maxLedgerProblems = 20

// CheckLedgers checks the archive's holdings against every coverage
// ledger: the ledger's signature holds and it is in the anchor log
// where the index says; every recording it lists is in the
// index and its object in the store, unless the index holds a tombstone
// for it; and every recording the index holds for that box and day is
// listed. It returns the number of ledgers and what is wrong, naming
// each recording.
func (a *Archive) CheckLedgers(ctx context.Context) (int, []string, error) {
	ls, err := a.Index.Ledgers(ctx)
	if err != nil {
		return 0, nil, err
	}
	var ps []string
	for _, hl := range ls {
		var lp []string
		add := func(f string, args ...any) { lp = append(lp, fmt.Sprintf(f, args...)) }
		where := fmt.Sprintf("coverage ledger of %s for %s", hl.Appliance, hl.Day)
		// The key was the pinned one when the ledger came (ledgerUpload);
		// a replaced box has another since. The ledger's bytes are held
		// by the anchor log's record, checked below.
		var m wire.LedgerUpload
		var l *ledger.Ledger
		err := jsonUnmarshal(hl.Signed, &m)
		if err == nil {
			l, err = m.Open(nil)
		}
		if err != nil || l.Appliance != hl.Appliance || l.Day != hl.Day || ledger.Hash(m.Ledger) != hl.Hash {
			ps = append(ps, fmt.Sprintf("%s: altered in the index (%v)", where, errOr(err, "names another box, day or hash")))
			continue
		}
		if hl.AnchorN < 0 {
			add("%s: not in the anchor log", where)
		} else if rec, err := a.Log.RecordAt(ctx, hl.AnchorN); err != nil || string(rec.Text) != string(ledger.AnchorText(hl.Appliance, hl.Day, hl.Hash)) {
			add("%s: the anchor log's record %d is not this ledger", where, hl.AnchorN)
		}
		day, _ := time.Parse(time.DateOnly, hl.Day)
		rs, err := a.Index.Records(ctx, index.Query{Appliance: hl.Appliance, From: day, To: day.Add(24 * time.Hour)})
		if err != nil {
			return 0, nil, err
		}
		held := map[string]index.Record{}
		tomb := map[string]bool{}
		for _, r := range rs {
			switch r.Kind {
			case wire.KindRecording:
				held[r.ID] = r
			case wire.KindTombstone:
				tomb[r.ID] = true
			}
		}
		// Tombstone rows may carry another start (the box's deletion);
		// look each listed recording up by ID too.
		for _, it := range l.Items {
			if it.SHA256 == "" {
				continue
			}
			r, ok := held[it.ID]
			if !ok {
				all, err := a.Index.Records(ctx, index.Query{Appliance: hl.Appliance, ID: it.ID})
				if err != nil {
					return 0, nil, err
				}
				for _, x := range all {
					if x.Kind == wire.KindTombstone {
						tomb[it.ID] = true
					} else if x.Kind == wire.KindRecording {
						r, ok = x, true
					}
				}
			}
			switch {
			case !ok && (tomb[it.ID] || it.Status == ledger.StatusErased):
				// Erased with a tombstone, or erased on the box before it
				// was ever sent.
			case !ok:
				add("%s/%s: listed in the %s as recorded (sha256 %s), not in the archive and no tombstone", hl.Appliance, it.ID, where, it.SHA256[:16])
			case r.SHA256 != it.SHA256:
				add("%s/%s: the archive's index gives sha256 %s, the %s %s", hl.Appliance, it.ID, r.SHA256[:16], where, it.SHA256[:16])
			case !r.DeletedAt.IsZero() || tomb[it.ID]:
				// Erased at the archive, with its tombstone.
			default:
				in, err := a.Store.Stat(ctx, r.SHA256)
				if err != nil {
					return 0, nil, err
				}
				if !in.Complete {
					add("%s/%s: listed in the %s, missing from the archive's store without a tombstone", hl.Appliance, it.ID, where)
				}
			}
		}
		for _, id := range sortedKeys(held) {
			if l.Find(id) == nil {
				add("%s/%s: held by the archive for %s, not in the box's coverage ledger of that day", hl.Appliance, id, hl.Day)
			}
		}
		if len(lp) > maxLedgerProblems {
			lp = append(lp[:maxLedgerProblems], fmt.Sprintf("... and %d more problems with the %s", len(lp)-maxLedgerProblems, where))
		}
		ps = append(ps, lp...)
	}
	// Every ledger the log holds is in the index: a ledger row deleted
	// (with the recordings it would name as missing) shows here.
	held := map[string]bool{}
	for _, hl := range ls {
		held[string(ledger.AnchorText(hl.Appliance, hl.Day, hl.Hash))] = true
	}
	rows, err := a.Index.DB().QueryContext(ctx, `SELECT n, appliance, text FROM anchor_records WHERE appliance LIKE 'ledger:%' ORDER BY n`)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
		var name string
		var text []byte
		if err := rows.Scan(&n, &name, &text); err != nil {
			return 0, nil, err
		}
		if !held[string(text)] {
			f := strings.Split(string(text), "\n")
			day := "?"
			if len(f) > 2 {
				day = f[2]
			}
			ps = append(ps, fmt.Sprintf("coverage ledger of %s for %s: in the anchor log (record %d), missing from the index", strings.TrimPrefix(name, "ledger:"), day, n))
		}
	}
	return len(ls), ps, rows.Err()
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// entryHash is the hex SHA-256 of the index entry the archive holds for
// the box's recording (id, sum), or "" when it holds none.
func (a *Archive) entryHash(ctx context.Context, box, id, sum string) (string, error) {
	rs, err := a.Index.Records(ctx, index.Query{Appliance: box, ID: id, Kind: wire.KindRecording})
	if err != nil {
		return "", err
	}
	for _, r := range rs {
		if r.SHA256 == sum {
			return ledger.Hash([]byte(r.Entry)), nil
		}
	}
	return "", nil
}
