package archive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault/agefile"
)

// HybridStanza is the age stanza of a hybrid post-quantum recipient
// (ML-KEM-768 + X25519, age1pq1...).
const HybridStanza = "mlkem768x25519"

// maxHeader bounds an age header read from the store.
const maxHeader = 64 << 10

// readHeader reads an age header (up to and including the "--- MAC"
// line) from r and returns it and its stanza types.
func readHeader(r *bufio.Reader) (hdr []byte, stanzas []string, err error) {
	for len(hdr) < maxHeader {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, nil, errors.New("no end of the age header")
		}
		if len(hdr) == 0 && string(line) != "age-encryption.org/v1\n" {
			return nil, nil, errors.New("not an age file")
		}
		hdr = append(hdr, line...)
		if f := strings.Fields(string(line)); len(f) > 1 && f[0] == "->" {
			stanzas = append(stanzas, f[1])
		}
		if bytes.HasPrefix(line, []byte("--- ")) {
			return hdr, stanzas, nil
		}
	}
	return nil, nil, errors.New("age header longer than 64 KiB")
}

// hybridOnly: at least one stanza, every one post-quantum.
func hybridOnly(stanzas []string) bool {
	for _, s := range stanzas {
		if s != HybridStanza {
			return false
		}
	}
	return len(stanzas) > 0
}

// noteSealing reads a stored object's header and records in the index
// whether it is sealed to hybrid recipients only (ingest calls it when an
// upload completes; failures only leave the object counted classical).
func (a *Archive) noteSealing(ctx context.Context, sum string) {
	var r io.Reader
	if hk, ok := a.Store.(store.HeaderKeeper); ok {
		if hdr, ok := hk.PublishedHeader(sum); ok {
			r = bytes.NewReader(hdr) // just written: no request to the bucket
		}
	}
	if r == nil {
		rc, _, err := a.Store.Open(ctx, sum)
		if err != nil {
			return
		}
		defer rc.Close()
		r = rc
	}
	if _, st, err := readHeader(bufio.NewReaderSize(io.LimitReader(r, maxHeader), 4096)); err == nil {
		if err := a.Index.NoteSealing(ctx, sum, hybridOnly(st)); err != nil {
			a.Logger.Warn("noting an object's sealing", "sha256", sum, "err", err)
		}
	}
}

// rehash reads a stored object and returns the SHA-256 it proves: of the
// whole file, or, for a re-sealed object whose header is the one it was
// re-sealed with, of the box's original header (its SHA-256 state, kept
// by the index) followed by the stored payload. It also says whether the
// object is classical-only (a file it cannot read as age counts as one),
// and notes it in the index.
func (a *Archive) rehash(ctx context.Context, sum string, r io.Reader) (got string, classical bool, err error) {
	whole := sha256.New() // every byte read from r, exactly once
	br := bufio.NewReaderSize(io.TeeReader(r, whole), 64<<10)
	hdr, st, herr := readHeader(br)
	classical = herr != nil || !hybridOnly(st)
	var after hash.Hash // the box's header state, then the payload
	if herr == nil {
		if err := a.Index.NoteSealing(ctx, sum, !classical); err != nil {
			return "", classical, err
		}
		hsum, mid, resealed, err := a.Index.Resealing(ctx, sum)
		if err != nil {
			return "", classical, err
		}
		if s := sha256.Sum256(hdr); resealed && hex.EncodeToString(s[:]) == hsum {
			state, err := hex.DecodeString(mid)
			after = sha256.New()
			if err != nil || after.(encoding.BinaryUnmarshaler).UnmarshalBinary(state) != nil {
				return "", classical, errors.New("the SHA-256 state kept at re-sealing is unreadable")
			}
		}
	}
	dst := io.Discard
	if after != nil {
		dst = after
	}
	if _, err := io.Copy(dst, br); err != nil {
		return "", classical, err
	}
	if after != nil {
		return hex.EncodeToString(after.Sum(nil)), classical, nil
	}
	return hex.EncodeToString(whole.Sum(nil)), classical, nil
}

// ResealReport says what Reseal did.
type ResealReport struct {
	Resealed  int      // headers re-wrapped now
	Hybrid    int      // objects already sealed to hybrid recipients only
	Metadata  int      // records' sealed metadata and subjects re-wrapped now (in the index)
	Problems  []string // objects left as they were, and why
	Remaining int      // classical-only objects after the run
}

// Reseal re-wraps the file key of every live recording whose header is
// not hybrid-only to the hybrid post-quantum recipient to: the header is
// opened with ids, its file key wrapped to to alone (the new header holds
// no classical stanza), and the store's header replaced, the payload
// untouched (store.Resealer: on S3 the locked payload object stays as it
// is). Before replacing, the stored file is re-hashed against its
// address; the SHA-256 state after the box's header is kept in the index
// and in the trail entry, so that verify still proves the payload is the
// box's. Each re-sealed object is one "resealed" entry in the trail.
func (a *Archive) Reseal(ctx context.Context, ids []age.Identity, to age.Recipient, by string) (*ResealReport, error) {
	if _, ok := to.(*age.HybridRecipient); !ok {
		return nil, fmt.Errorf("archive: reseal: %T is not a hybrid post-quantum recipient", to)
	}
	rs, ok := a.Store.(store.Resealer)
	if !ok {
		return nil, fmt.Errorf("archive: reseal: the store (%T) cannot replace headers", a.Store)
	}
	recs, err := a.Index.Records(ctx, index.Query{Kind: wire.KindRecording})
	if err != nil {
		return nil, err
	}
	rep := &ResealReport{}
	seen := map[string]bool{}
	for _, r := range recs {
		if !r.DeletedAt.IsZero() || r.SHA256 == "" || seen[r.SHA256] {
			continue
		}
		seen[r.SHA256] = true
		done, err := a.reseal1(ctx, rs, r, ids, to, by)
		switch {
		case err != nil:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s/%s: %v", r.Appliance, r.ID, err))
		case done:
			rep.Resealed++
		default:
			rep.Hybrid++
		}
	}
	if err := a.resealMetadata(ctx, ids, to, by, rep); err != nil {
		return rep, err
	}
	counts, err := a.Index.ClassicalOnly(ctx)
	if err != nil {
		return rep, err
	}
	for _, n := range counts {
		rep.Remaining += n
	}
	return rep, nil
}

// reseal1 re-seals one object; done is false when it was hybrid already.
func (a *Archive) reseal1(ctx context.Context, rs store.Resealer, r index.Record, ids []age.Identity, to age.Recipient, by string) (done bool, err error) {
	rc, _, err := a.Store.Open(ctx, r.SHA256)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	hdr, st, err := readHeader(br)
	if err != nil {
		return false, err
	}
	if hybridOnly(st) {
		return false, a.Index.NoteSealing(ctx, r.SHA256, true)
	}
	// The stored file must be the box's before its header is replaced.
	h := sha256.New()
	h.Write(hdr)
	mid, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(h, br); err != nil {
		return false, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != r.SHA256 {
		return false, fmt.Errorf("stored object hashes to %s, not %s: left as it is", got, r.SHA256)
	}
	fileKey, err := age.DecryptHeader(hdr, ids...)
	if err != nil {
		return false, fmt.Errorf("open the header: %w", err)
	}
	defer clear(fileKey)
	nh, err := agefile.Header(fileKey, []age.Recipient{to})
	if err != nil {
		return false, err
	}
	// The new header must give the same file key (and so open the same
	// payload): checked with the key itself, which opens only a header
	// whose MAC it made.
	if k, err := age.DecryptHeader(nh, age.NewInjectedFileKeyIdentity(fileKey)); err != nil || !bytes.Equal(k, fileKey) {
		return false, fmt.Errorf("the re-wrapped header does not check: %v", err)
	}
	hs := sha256.Sum256(nh)
	midHex := hex.EncodeToString(mid)
	// The index learns first (a crash after it leaves a header that
	// still hashes whole: verify accepts both), then the store.
	if err := a.Index.Resealed(ctx, r.SHA256, hex.EncodeToString(hs[:]), midHex, a.Now()); err != nil {
		return false, err
	}
	if err := rs.Reseal(ctx, r.SHA256, int64(len(hdr)), nh); err != nil {
		return false, err
	}
	a.Event(ctx, "resealed", by, r.Appliance, fmt.Sprintf("%s (%s): file key re-wrapped from %s to %s; header sha256 %s; box header state %s",
		r.ID, r.SHA256, strings.Join(st, ","), HybridStanza, hex.EncodeToString(hs[:]), midHex), false)
	return true, nil
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}

// resealMetadata re-wraps, the same way, the sealed personal metadata and
// subjects the index holds (age files the box sealed: numbers, names,
// addresses), page by page; one trail entry says how many.
func (a *Archive) resealMetadata(ctx context.Context, ids []age.Identity, to age.Recipient, by string, rep *ResealReport) error {
	var after index.SealedMetadata
	for {
		ms, err := a.Index.SealedMetadataAfter(ctx, after, 500)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			for _, f := range []struct {
				subject bool
				blob    []byte
			}{{false, m.Sealed}, {true, m.Subject}} {
				nb, err := resealBlob(f.blob, ids, to)
				if err != nil {
					rep.Problems = append(rep.Problems, fmt.Sprintf("%s/%s (%s): sealed metadata: %v", m.Appliance, m.ID, m.Kind, err))
					continue
				}
				if nb == nil {
					continue
				}
				if err := a.Index.ResealMetadata(ctx, m, f.subject, f.blob, nb); err != nil {
					return err
				}
				rep.Metadata++
			}
		}
		after = ms[len(ms)-1]
	}
	if rep.Metadata > 0 {
		a.Event(ctx, "resealed_metadata", by, "", fmt.Sprintf("%d sealed metadata and subjects in the index re-wrapped to %s", rep.Metadata, HybridStanza), false)
	}
	return nil
}

// resealBlob returns an age file (held whole) with its file key
// re-wrapped to to, or nil when it is empty or hybrid already.
func resealBlob(blob []byte, ids []age.Identity, to age.Recipient) ([]byte, error) {
	if len(blob) == 0 {
		return nil, nil
	}
	hdr, st, err := readHeader(bufio.NewReader(bytes.NewReader(blob)))
	if err != nil {
		return nil, err
	}
	if hybridOnly(st) {
		return nil, nil
	}
	fileKey, err := age.DecryptHeader(hdr, ids...)
	if err != nil {
		return nil, fmt.Errorf("open the header: %w", err)
	}
	defer clear(fileKey)
	nh, err := agefile.Header(fileKey, []age.Recipient{to})
	if err != nil {
		return nil, err
	}
	return append(nh, blob[len(hdr):]...), nil
}
