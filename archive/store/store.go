// Package store keeps the archive's sealed recordings, content-addressed by
// the SHA-256 of the sealed file, still sealed (ingest holds no key). Two
// backends: Dir (a directory, the embedded default) and S3 (a bucket with
// Object Lock, through minio-go; see s3.go for its layout).
//
// Invariants:
//   - An object is visible (Stat says complete, Open reads it) only after
//     its bytes were re-hashed and matched its address, and were made
//     durable (file and directory fsynced; or the S3 PUT, checked by the
//     server against a SHA-256 checksum, returned): what the archive
//     acknowledges is durable.
//   - A partial upload keeps every byte it received (fsynced before the
//     offset is reported), so a resumed upload continues at that offset.
//     On S3 a staged upload that completes and is published is not
//     fsynced: it is reported complete after the bucket's PUTs returned.
//     Partials are kept per box (AppendFor, Partial): a box sees and
//     extends only its own. Partials are never removed while they
//     received bytes within PartialTTL (a slow upload is not garbage).
//   - No store-wide lock is held while bytes come from the network: an
//     upload holds the lock of its own partial only (and, to seal, of its
//     object), so that a stalled upload delays nobody else's.
//   - Delete refuses objects whose retain-until has not passed or that are
//     on hold; Erase refuses held objects and COMPLIANCE objects before
//     their date. On S3 the server enforces the same (tested against it).
//   - Erase on S3 is crypto-shredding: the age header (the wrapped file
//     key) is destroyed, the locked payload stays until its date and can
//     never be opened; publishing the same bytes again never writes the
//     header back (nor a re-sealed recording's classical one). Every erasure leaves a write-once note first, which
//     the archive replays into a restored index before serving.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spanvault/spanvault/internal/atomicfile"
)

// Errors.
var (
	ErrNotFound = errors.New("store: no such object")
	ErrOffset   = errors.New("store: upload offset does not match what the archive holds")
	ErrMismatch = errors.New("store: received bytes do not hash to the object's address")
	ErrRetained = errors.New("store: object is retained (retain-until not reached)")
	ErrLegal    = errors.New("store: object is under a legal retention duty (COMPLIANCE lock): erasure refused until its date (GDPR Art. 17(3)(b))")
	ErrHeld     = errors.New("store: object is on legal hold")
	ErrTooLarge = errors.New("store: upload longer than its declared length")
	ErrNoSpace  = errors.New("store: archive storage full")
	ErrErased   = errors.New("store: recording erased (its key is destroyed; the locked payload cannot be decrypted)")
)

// Lock modes, with S3 Object Lock's names.
const (
	Compliance = "COMPLIANCE" // a legal retention duty: nobody deletes before the date
	Governance = "GOVERNANCE" // the bank's own retention: erasure may shorten it
)

// Retention is an object's protection.
type Retention struct {
	Until time.Time
	Mode  string
	Hold  bool
}

// Info describes an object.
type Info struct {
	Complete    bool
	Offset      int64 // bytes held (== Size when complete)
	Size        int64
	RetainUntil time.Time
	Hold        bool
	LockMode    string
	Erased      bool // crypto-shredded: the payload may remain, locked, but nothing can open it
}

// Store is what ingest and access need of the storage.
type Store interface {
	// Stat reports an object's state; a missing object is Info{} and nil.
	Stat(ctx context.Context, sum string) (Info, error)
	// Append adds r's bytes at offset to the archive's own partial
	// upload of the object (of declared total length); when the partial
	// reaches length it is verified and made durable. It returns the
	// object's state and the bytes this call added (kept even when it
	// also returns an error). An object already complete is left as it
	// is (nothing is read).
	Append(ctx context.Context, sum string, offset, length int64, r io.Reader) (Info, int64, error)
	// AppendFor is Append for box's own upload of sum: its partial is
	// box's alone, and it is always completed with the box's own bytes
	// (verified against the address) even when the object is already
	// held; an object already held is then left as it is. Ownership (who
	// may upload or name what) is the archive's, not the store's.
	AppendFor(ctx context.Context, box, sum string, offset, length int64, r io.Reader) (Info, int64, error)
	// Partial reports box's own upload of sum in progress (Offset only;
	// nothing of complete objects or of other boxes' partials).
	Partial(ctx context.Context, box, sum string) (Info, error)
	// Partials lists the bytes held of each of box's unfinished uploads.
	Partials(ctx context.Context, box string) (map[string]int64, error)
	// Open reads a complete object.
	Open(ctx context.Context, sum string) (io.ReadCloser, int64, error)
	// SetRetention records retain-until, lock mode and hold for a
	// complete object.
	SetRetention(ctx context.Context, sum string, r Retention) error
	// Delete removes a complete object whose retention has run out.
	Delete(ctx context.Context, sum string, now time.Time) error
	// Erase removes an object before its retain-until (GDPR erasure):
	// refused while held, and before the date under COMPLIANCE (a legal
	// retention duty, GDPR Art. 17(3)(b)); GOVERNANCE yields to it.
	Erase(ctx context.Context, sum string, now time.Time) error
	// Sweep removes partial uploads idle for longer than ttl.
	Sweep(ctx context.Context, ttl time.Duration, now time.Time) (int, error)
	// NoteErasure keeps a durable, write-once note that an object was
	// erased, beside the objects and not in the index: an index restored
	// from a backup replays the notes before anything is served, so no
	// backup brings an erased recording back.
	NoteErasure(ctx context.Context, e Erasure) error
	// Erasures lists the notes.
	Erasures(ctx context.Context) ([]Erasure, error)
}

// Erasure is the note of one erased object (no personal data: addresses
// and names of boxes and recordings only). Sig is the archive's signature
// of the note (the store neither makes nor checks it: whoever can write
// to the store can write a note, and the archive applies only the notes
// it signed). Bad says why a note the store keeps could not be read
// (SHA256 is then the name it is kept under): the listing goes on, and
// the archive alerts it.
type Erasure struct {
	SHA256    string    `json:"sha256"`
	Appliance string    `json:"appliance"`
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	By        string    `json:"by"`
	Sig       []byte    `json:"sig,omitempty"`
	Bad       string    `json:"-"`
}

// Dir is the embedded directory backend: objects/ab/abcdef... files,
// partial/<box>/abcdef... uploads, and a small side file per object
// holding its retention (retain-until and hold).
type Dir struct {
	root  string
	locks keyedLocks // per partial ("p/box/sum") and per object being sealed ("o/sum")
	// publish, when set, takes a verified, complete partial somewhere
	// else (the S3 backend stages uploads in a Dir) instead of moving it
	// into objects/; the partial is removed once it returns nil.
	// pub says what is known of the object beyond its bytes: the lock
	// it is to get when the box sent its class (AppendWith), the
	// payload's SHA-256 when it was hashed as received (lockatput.go).
	publish func(sum, path string, length int64, pub publishing) (Info, error)
}

// OpenDir opens (and creates) a directory store.
func OpenDir(root string) (*Dir, error) {
	for _, d := range []string{"objects", "partial", "erasures"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	return &Dir{root: root}, nil
}

func (d *Dir) objPath(sum string) string {
	return filepath.Join(d.root, "objects", sum[:2], sum)
}
func (d *Dir) retPath(sum string) string { return d.objPath(sum) + ".retention" }

// Stat implements Store.
func (d *Dir) Stat(_ context.Context, sum string) (Info, error) {
	if fi, err := os.Stat(d.objPath(sum)); err == nil {
		in := Info{Complete: true, Offset: fi.Size(), Size: fi.Size()}
		r := d.readRetention(sum)
		in.RetainUntil, in.Hold, in.LockMode = r.Until, r.Hold, r.Mode
		return in, nil
	}
	return d.Partial(context.Background(), "", sum)
}

// Append implements Store.
func (d *Dir) Append(ctx context.Context, sum string, offset, length int64, r io.Reader) (Info, int64, error) {
	if in, err := d.Stat(ctx, sum); err != nil || in.Complete {
		return in, 0, err // idempotent: already held
	}
	return d.AppendFor(ctx, "", sum, offset, length, r)
}

// AppendFor implements Store. Only the partial's own lock is held while
// bytes arrive.
func (d *Dir) AppendFor(ctx context.Context, box, sum string, offset, length int64, r io.Reader) (Info, int64, error) {
	return d.appendFor(ctx, box, sum, offset, length, r, Upload{})
}

// appendFor is AppendFor; a complete upload is published with what u
// says (lockatput.go).
func (d *Dir) appendFor(ctx context.Context, box, sum string, offset, length int64, r io.Reader, u Upload) (Info, int64, error) {
	dir, err := d.boxDir(box)
	if err != nil {
		return Info{}, 0, err
	}
	unlock := d.locks.lock(partKey(box, sum))
	defer unlock()
	part := filepath.Join(dir, sum)
	in, err := d.Partial(ctx, box, sum)
	if err != nil {
		return in, 0, err
	}
	if offset != in.Offset {
		return in, 0, fmt.Errorf("%w: client at %d, archive holds %d", ErrOffset, offset, in.Offset)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return in, 0, fmt.Errorf("store: %w", err)
	}
	f, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return in, 0, fmt.Errorf("store: %w", err)
	}
	// An upload that starts at 0 is hashed as it arrives; a resumed one is
	// re-read at the end.
	var h hash.Hash
	var ph *payloadHasher
	src := io.LimitReader(r, length-offset+1)
	th := &timedWriter{}
	if offset == 0 {
		h = sha256.New()
		th.w = h
		if d.publish != nil {
			// The payload's own SHA-256 too, for the PUT's checksum.
			ph = &payloadHasher{h: sha256.New()}
			th.w = io.MultiWriter(h, ph)
		}
		src = io.TeeReader(src, th)
	}
	t0 := time.Now()
	n, cerr := io.Copy(f, src)
	StepTimes.Add("receive + staging write", time.Since(t0)-th.d)
	StepTimes.Add("hashing (as received)", th.d)
	if offset+n > length {
		// Keep only the declared length; the client sent too much.
		if err := f.Truncate(length); err != nil {
			f.Close()
			return Info{}, 0, fmt.Errorf("store: trimming an upload sent past its length: %w", err)
		}
		f.Close()
		return Info{Offset: length}, length - offset, ErrTooLarge
	}
	// A staged file handed on to a publish (S3) that completes is not
	// fsynced: it is acknowledged only after the bucket's PUTs returned,
	// and then the bucket holds it and the file goes. Every staged byte
	// that is kept (a cut upload, one not complete yet, a publish that
	// failed) is fsynced before its offset is reported (syncPart). A
	// crash before the PUTs returned leaves at most a staged file the
	// box was never told of: damaged, it fails its address check and is
	// dropped, and the box, unanswered, sends the upload again.
	toPublish := d.publish != nil && cerr == nil && offset+n == length
	if !toPublish {
		if err := syncPart(f); err != nil {
			f.Close()
			return in, 0, err
		}
	}
	defer f.Close()
	in.Offset = offset + n
	if cerr != nil {
		// The connection broke: the bytes that arrived are kept.
		if isNoSpace(cerr) {
			return in, n, fmt.Errorf("%w: %v", ErrNoSpace, cerr)
		}
		return in, n, fmt.Errorf("store: upload interrupted at %d: %w", in.Offset, cerr)
	}
	if in.Offset < length {
		return in, n, nil
	}
	got := ""
	if h != nil {
		got = hex.EncodeToString(h.Sum(nil))
	}
	in, err = d.seal(part, sum, length, got, ph.publishing(u))
	if toPublish && err != nil && !errors.Is(err, ErrMismatch) {
		// The publish failed: the staged file is kept for the next
		// request to publish, durable like any partial.
		if serr := syncPart(f); serr != nil {
			return in, n, fmt.Errorf("%v; %w", err, serr)
		}
	}
	return in, n, err
}

// syncPart makes a staged partial's bytes durable.
func syncPart(f *os.File) error {
	defer StepTimes.Since("staging fsync", time.Now())
	if err := f.Sync(); err != nil {
		if isNoSpace(err) {
			return fmt.Errorf("%w: %v", ErrNoSpace, err)
		}
		return fmt.Errorf("store: fsync partial: %w", err)
	}
	return nil
}

// seal verifies a finished partial (got is its hash when known) and moves
// it into place durably; an object already held (the same bytes, by its
// address) is left as it is and the partial dropped.
func (d *Dir) seal(part, sum string, length int64, got string, pub publishing) (Info, error) {
	if got == "" {
		var err error
		if got, err = hashFile(part); err != nil {
			return Info{}, err
		}
	}
	if got != sum {
		os.Remove(part)
		return Info{}, fmt.Errorf("%w: address %s, received bytes hash to %s", ErrMismatch, sum, got)
	}
	unlock := d.locks.lock("o/" + sum)
	defer unlock()
	if d.publish != nil {
		in, err := d.publish(sum, part, length, pub)
		if err != nil {
			return Info{Offset: length}, err // kept: published again on the next HEAD or PATCH
		}
		os.Remove(part)
		return in, nil
	}
	dst := d.objPath(sum)
	if fi, err := os.Stat(dst); err == nil && (fi.Size() == length || d.isResealed(sum)) {
		os.Remove(part)
		return Info{Complete: true, Offset: length, Size: length}, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return Info{}, fmt.Errorf("store: %w", err)
	}
	if err := os.Rename(part, dst); err != nil {
		return Info{}, fmt.Errorf("store: %w", err)
	}
	// The object's directory entry must be durable; the partial's
	// disappearance need not be (a partial found again after a crash is
	// complete and simply re-sealed).
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return Info{}, err
	}
	return Info{Complete: true, Offset: length, Size: length}, nil
}

// Open implements Store.
func (d *Dir) Open(_ context.Context, sum string) (io.ReadCloser, int64, error) {
	f, err := os.Open(d.objPath(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// SetRetention implements Store.
func (d *Dir) SetRetention(_ context.Context, sum string, r Retention) error {
	if _, err := os.Stat(d.objPath(sum)); err != nil {
		return ErrNotFound
	}
	h := "0"
	if r.Hold {
		h = "1"
	}
	mode := r.Mode
	if mode == "" {
		mode = Governance
	}
	data := []byte(r.Until.UTC().Format(time.RFC3339Nano) + " " + h + " " + mode + "\n")
	return writeDurable(d.retPath(sum), data)
}

// writeDurable replaces path with data (internal/atomicfile: a temporary
// file, fsynced, renamed over path, the directory fsynced).
func writeDurable(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		if isNoSpace(err) {
			return fmt.Errorf("%w: %v", ErrNoSpace, err)
		}
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

func (d *Dir) readRetention(sum string) Retention {
	b, err := os.ReadFile(d.retPath(sum))
	if err != nil || len(b) < 3 {
		return Retention{}
	}
	var ts, h, mode string
	_, _ = fmt.Sscan(string(b), &ts, &h, &mode) // a file from before the mode field has two: Sscan stops there
	t, _ := time.Parse(time.RFC3339Nano, ts)
	return Retention{Until: t, Hold: h == "1", Mode: mode}
}

// Delete implements Store.
func (d *Dir) Delete(_ context.Context, sum string, now time.Time) error {
	r := d.readRetention(sum)
	if r.Hold {
		return ErrHeld
	}
	if now.Before(r.Until) {
		return fmt.Errorf("%w: until %s", ErrRetained, r.Until.UTC().Format(time.RFC3339))
	}
	return d.remove(sum)
}

// Erase implements Store.
func (d *Dir) Erase(_ context.Context, sum string, now time.Time) error {
	r := d.readRetention(sum)
	if r.Hold {
		return ErrHeld
	}
	if r.Mode == Compliance && now.Before(r.Until) {
		return fmt.Errorf("%w: until %s", ErrLegal, r.Until.UTC().Format(time.RFC3339))
	}
	return d.remove(sum)
}

func (d *Dir) remove(sum string) error {
	if err := os.Remove(d.objPath(sum)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ErrNotFound
		}
		return fmt.Errorf("store: %w", err)
	}
	os.Remove(d.retPath(sum))
	os.Remove(d.resealedPath(sum))
	return syncDir(filepath.Dir(d.objPath(sum)))
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) error {
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("store: fsync %s: %w", dir, err)
	}
	return nil
}

func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

// NoteErasure implements Store: erasures/<sum>.json, fsynced.
func (d *Dir) NoteErasure(_ context.Context, e Erasure) error {
	b, _ := json.Marshal(e)
	if err := writeDurable(filepath.Join(d.root, "erasures", e.SHA256+".json"), b); err != nil {
		return fmt.Errorf("store: erasure note: %w", err)
	}
	return nil
}

// Erasures implements Store.
func (d *Dir) Erasures(_ context.Context) ([]Erasure, error) {
	es, err := os.ReadDir(filepath.Join(d.root, "erasures"))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	var out []Erasure
	for _, e := range es {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d.root, "erasures", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		var n Erasure
		if err := json.Unmarshal(b, &n); err != nil {
			n = Erasure{SHA256: strings.TrimSuffix(e.Name(), ".json"), Bad: err.Error()}
		}
		out = append(out, n)
	}
	return out, nil
}
