package vault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
)

// SubjectReport answers a data subject's access request (GDPR Art. 15):
// every recording and call record of the subject with its metadata,
// retention, holds and sync state, and the tombstones of those deleted.
type SubjectReport struct {
	Subject    string             `json:"subject"`
	Generated  time.Time          `json:"generated"`
	Recordings []SubjectRecording `json:"recordings"`
	Deleted    []Tombstone        `json:"deleted"`
	Holds      []string           `json:"holds"`
}

// SubjectRecording is one line of a subject report.
type SubjectRecording struct {
	Entry    *Entry    `json:"entry"`
	Personal *Personal `json:"personal"`
}

// Report builds the subject report for number.
func (v *Vault) Report(number string, ids []age.Identity) (*SubjectReport, error) {
	ms, err := v.FindSubject(number, ids)
	if err != nil {
		return nil, err
	}
	rep := &SubjectReport{Subject: NormalizeNumber(number), Generated: v.opt.Now().UTC(), Recordings: []SubjectRecording{}, Deleted: []Tombstone{}, Holds: []string{}}
	holds := map[string]bool{}
	for _, m := range ms {
		rep.Recordings = append(rep.Recordings, SubjectRecording(m))
		for _, h := range m.Entry.Holds {
			holds[h] = true
		}
	}
	ts, err := v.Tombstones()
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.Subject == nil {
			continue
		}
		r, err := age.Decrypt(bytes.NewReader(t.Subject), ids...)
		if err != nil {
			continue
		}
		var s struct {
			Numbers []string `json:"numbers"`
		}
		if json.NewDecoder(r).Decode(&s) == nil && slices.Contains(s.Numbers, rep.Subject) {
			t.Subject = nil
			if t.SealedReason != nil {
				// The report is made with the identity: the reason in full.
				if rr, err := age.Decrypt(bytes.NewReader(t.SealedReason), ids...); err == nil {
					var why struct {
						Reason string `json:"reason"`
					}
					if json.NewDecoder(rr).Decode(&why) == nil {
						t.Reason = "erasure: " + why.Reason
					}
				}
				t.SealedReason = nil
			}
			rep.Deleted = append(rep.Deleted, t)
		}
	}
	hs, err := v.Holds()
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		if h.Tag != nil && v.holdMatchesNumber(h, rep.Subject) {
			holds[h.ID] = true
		}
	}
	for h := range holds {
		rep.Holds = append(rep.Holds, h)
	}
	sort.Strings(rep.Holds)
	return rep, nil
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"t": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"join": strings.Join,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Subject access report</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:left}h2{margin-top:2em}</style>
</head><body>
<h1>Subject access report (GDPR Art. 15)</h1>
<p>Subject: <b>{{.Subject}}</b>. Generated {{t .Generated}}.</p>
<h2>Recordings and call records held ({{len .Recordings}})</h2>
<table><tr><th>ID</th><th>Start</th><th>From</th><th>To</th><th>Call</th><th>Stored</th><th>Class</th><th>Kept until</th><th>Holds</th><th>Archive</th></tr>
{{range .Recordings}}<tr><td>{{.Entry.ID}}</td><td>{{t .Entry.Start}}</td><td>{{.Personal.From}}</td><td>{{.Personal.To}}</td><td>{{.Entry.CallState}}</td><td>{{if .Entry.Recorded}}audio ({{.Entry.State}}){{else}}call record only{{end}}</td><td>{{.Entry.Class}}</td><td>{{t .Entry.Expiry}}</td><td>{{join .Entry.Holds ", "}}</td><td>{{.Entry.Sync}}</td></tr>
{{end}}</table>
<h2>Deleted ({{len .Deleted}})</h2>
<table><tr><th>ID</th><th>Call start</th><th>Deleted</th><th>Reason</th><th>By</th></tr>
{{range .Deleted}}<tr><td>{{.ID}}</td><td>{{t .Start}}</td><td>{{t .DeletedAt}}</td><td>{{.Reason}}</td><td>{{.By}}</td></tr>
{{end}}</table>
<h2>Legal holds</h2>
<p>{{if .Holds}}{{join .Holds ", "}}{{else}}none{{end}}</p>
</body></html>
`))

// WriteHTML renders the report as a readable page.
func (r *SubjectReport) WriteHTML(w io.Writer) error {
	return reportTmpl.Execute(w, r)
}

// FsckReport says what fsck found and did.
type FsckReport struct {
	Entries    int      `json:"entries"`
	Files      int      `json:"files"`
	Problems   []string `json:"problems"`
	Repaired   []string `json:"repaired"`
	AuditOK    bool     `json:"audit_ok"`
	AuditError string   `json:"audit_error,omitempty"`
	// InProgress counts interrupted recordings a read-only fsck found
	// (recovered at the next writable open).
	InProgress int `json:"in_progress"`
}

// Clean reports whether fsck found nothing wrong.
func (r *FsckReport) Clean() bool { return len(r.Problems) == 0 && r.AuditOK }

// Fsck checks the index against the files: every sealed recording has a
// file of the recorded size and hash, no file lacks an entry, and the audit
// chain verifies. With repair it fixes what can be fixed without losing
// anything: it re-measures files of truncated entries and marks entries
// whose file is gone as erased with a tombstone; stray files are moved to
// DIR/lost+found, never deleted.
func (v *Vault) Fsck(repair bool) (*FsckReport, error) {
	rep := &FsckReport{Problems: []string{}, Repaired: []string{}}
	if repair && !v.opt.ReadOnly {
		if err := v.salvage(rep); err != nil {
			return nil, err
		}
	}
	es, bad, err := v.listAll()
	if err != nil {
		return nil, err
	}
	for _, id := range bad {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%q: index entry cannot be read", id))
	}
	if repair && len(bad) > 0 && !v.opt.ReadOnly {
		// Drop the unreadable entries: their recordings become files the
		// index does not know, which the walk below re-indexes.
		err := v.update(func(tx *bolt.Tx) error {
			if err := dropUnreadable(tx); err != nil {
				return err
			}
			return v.audit(tx, audit.Entry{Action: "fsck_repair", Actor: "fsck", Detail: fmt.Sprintf("%d unreadable index entries dropped for re-indexing", len(bad))})
		})
		if err != nil {
			return rep, err
		}
		for _, id := range bad {
			rep.Repaired = append(rep.Repaired, fmt.Sprintf("%q: unreadable entry dropped; its recording, if intact, is re-indexed", id))
		}
	}
	rep.Entries = len(es)
	known := map[string]bool{}
	v.mu.Lock()
	open := map[string]bool{}
	for id := range v.open {
		open[id] = true
	}
	v.mu.Unlock()
	for _, e := range es {
		known[e.ID] = true
		if !e.Recorded || open[e.ID] {
			continue
		}
		if e.State == StateRecording && v.opt.ReadOnly {
			// Interrupted (a crash): a read-only fsck does not recover;
			// the next writable open does. Reported once, not as a
			// missing file plus a stray .part.
			if _, err := os.Stat(v.path(e.ID, true)); err == nil {
				open[e.ID] = true
				rep.InProgress++
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: interrupted recording (.part file); the next writable open recovers it as truncated", e.ID))
				continue
			}
		}
		p := v.path(e.ID, false)
		size, sum, err := hashFile(p)
		switch {
		case err != nil && os.IsNotExist(err):
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: file missing", e.ID))
			if repair {
				if err := v.markLost(e); err != nil {
					return rep, err
				}
				rep.Repaired = append(rep.Repaired, fmt.Sprintf("%s: marked erased (file missing)", e.ID))
			}
		case err != nil:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", e.ID, err))
		case e.State == StateRecording:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: still marked as recording", e.ID))
		case size != e.Size || sum != e.SHA256:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: file is %d bytes sha256 %.12s, index says %d bytes %.12s", e.ID, size, sum, e.Size, e.SHA256))
			if repair && e.State == StateTruncated {
				err := v.update(func(tx *bolt.Tx) error {
					old, err := getEntry(tx, e.ID)
					if err != nil {
						return err
					}
					ne := *old
					ne.Size, ne.SHA256 = size, sum
					return putEntry(tx, &ne, old)
				})
				if err != nil {
					return rep, err
				}
				rep.Repaired = append(rep.Repaired, fmt.Sprintf("%s: truncated recording re-measured", e.ID))
			}
		}
	}
	err = filepath.WalkDir(filepath.Join(v.dir, "rec"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rep.Files++
		name := d.Name()
		id := strings.TrimSuffix(strings.TrimSuffix(name, ".part"), ".age")
		if known[id] && !strings.HasSuffix(name, ".part") {
			return nil
		}
		if open[id] {
			return nil
		}
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s: file without index entry", name))
		if repair && strings.HasSuffix(name, ".age") && validID(id) {
			// A sealed recording whose entry was lost (a damaged index
			// replaced): indexed again, so it is kept and synced.
			if err := v.reindex(id, path); err != nil {
				return err
			}
			rep.Repaired = append(rep.Repaired, fmt.Sprintf("%s: re-indexed from its file", name))
			return nil
		}
		if repair {
			lf := filepath.Join(v.dir, "lost+found")
			if err := os.MkdirAll(lf, 0o700); err != nil {
				return err
			}
			if err := os.Rename(path, filepath.Join(lf, name)); err != nil {
				return err
			}
			rep.Repaired = append(rep.Repaired, fmt.Sprintf("%s: moved to lost+found", name))
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if _, err := v.VerifyAudit(); err != nil {
		rep.AuditError = err.Error()
	} else {
		rep.AuditOK = true
	}
	if repair && len(rep.Repaired) > 0 && !v.opt.ReadOnly {
		if err := v.Audit("fsck_repair", "fsck", "", strings.Join(rep.Repaired, "; ")); err != nil {
			return rep, fmt.Errorf("vault: fsck: auditing the repairs: %w", err)
		}
	}
	return rep, nil
}

func (v *Vault) markLost(e *Entry) error {
	return v.update(func(tx *bolt.Tx) error {
		ts := Tombstone{ID: e.ID, Start: e.Start, Class: e.Class, DeletedAt: v.opt.Now().UTC(), Reason: "file missing (found by fsck)", By: "fsck", SHA256: e.SHA256,
			Subject: bytes.Clone(tx.Bucket(bSubjects).Get([]byte(e.ID)))}
		tb, _ := json.Marshal(ts)
		if err := tx.Bucket(bTombstones).Put([]byte(e.ID), tb); err != nil {
			return err
		}
		for _, b := range [][]byte{bEntries, bSealed, bSubjects} {
			if err := tx.Bucket(b).Delete([]byte(e.ID)); err != nil {
				return err
			}
		}
		if !e.Expiry.IsZero() {
			if err := tx.Bucket(bExpiry).Delete(expiryKey(e.Expiry, e.ID)); err != nil {
				return err
			}
		}
		return nil
	})
}

// dropUnreadable rebuilds the entries bucket with only the entries
// listAll can read. A damaged page (an overflow page zeroed) can leave
// several elements with the same garbled key, out of order: bbolt finds
// elements by binary search, so neither Delete(key) nor a cursor's Delete
// reliably reaches them, while every listing still trips over them. The
// readable entries are copied out, the bucket dropped (its pages freed by
// their headers, not their contents) and made anew.
func dropUnreadable(tx *bolt.Tx) error {
	type kv struct{ k, v []byte }
	var keep []kv
	err := tx.Bucket(bEntries).ForEach(func(k, val []byte) error {
		var e Entry
		if err := json.Unmarshal(val, &e); err == nil && e.ID == string(k) {
			keep = append(keep, kv{bytes.Clone(k), bytes.Clone(val)})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault: fsck: reading the entries: %w", err)
	}
	if err := tx.DeleteBucket(bEntries); err != nil {
		return fmt.Errorf("vault: fsck: dropping the damaged entries bucket: %w", err)
	}
	b, err := tx.CreateBucket(bEntries)
	if err != nil {
		return fmt.Errorf("vault: fsck: a fresh entries bucket: %w", err)
	}
	for _, e := range keep {
		if err := b.Put(e.k, e.v); err != nil {
			return fmt.Errorf("vault: fsck: re-indexing %s: %w", e.k, err)
		}
	}
	return nil
}
