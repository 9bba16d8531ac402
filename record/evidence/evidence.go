package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/record/ledger"
)

// Magic is a bundle's first line.
const Magic = "spanvault evidence v1\n"

// MaxSize bounds a bundle a reader accepts (a recording of several hours
// is some hundreds of MB; the rest is small).
const MaxSize = 2 << 30

// maxProof bounds a proof's hashes (a log of 2^63 records needs 63).
const maxProof = 64

// Section names, in their order in a bundle.
var sections = []string{"checkpoint", "log-key", "recording", "entry", "recording-proof", "ledger", "ledger-key", "ledger-signature", "ledger-proof", "head", "head-proof", "timestamp"}

// Proof is a record's inclusion proof in the log.
type Proof struct {
	Index  int64
	Hashes []tlog.Hash
}

// Bundle is an evidence bundle's content.
type Bundle struct {
	Checkpoint      []byte
	LogKey          string
	Recording       []byte
	Entry           []byte
	RecordingProof  Proof
	Ledger          []byte
	LedgerKey       []byte
	LedgerSignature []byte
	LedgerProof     Proof
	Head            []byte
	HeadProof       Proof
	Timestamp       []byte
}

func (p Proof) bytes() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(p.Index))
	for _, h := range p.Hashes {
		b = append(b, h[:]...)
	}
	return b
}

func parseProof(name string, b []byte) (Proof, error) {
	if len(b) < 8 || (len(b)-8)%tlog.HashSize != 0 || (len(b)-8)/tlog.HashSize > maxProof {
		return Proof{}, &BrokenError{Proof: name, Reason: fmt.Sprintf("%d bytes are not an index and whole hashes", len(b))}
	}
	p := Proof{Index: int64(binary.BigEndian.Uint64(b))}
	if p.Index < 0 {
		return Proof{}, &BrokenError{Proof: name, Reason: "negative record index"}
	}
	for i := 8; i < len(b); i += tlog.HashSize {
		var h tlog.Hash
		copy(h[:], b[i:])
		p.Hashes = append(p.Hashes, h)
	}
	return p, nil
}

func (b *Bundle) parts() [][]byte {
	return [][]byte{b.Checkpoint, []byte(b.LogKey), b.Recording, b.Entry, b.RecordingProof.bytes(), b.Ledger, b.LedgerKey, b.LedgerSignature, b.LedgerProof.bytes(), b.Head, b.HeadProof.bytes(), b.Timestamp}
}

// Marshal encodes the bundle.
func (b *Bundle) Marshal() []byte {
	var out bytes.Buffer
	out.WriteString(Magic)
	for i, p := range b.parts() {
		fmt.Fprintf(&out, "%s %d\n", sections[i], len(p))
		out.Write(p)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// Sections returns the byte range of each section's content in an
// encoded bundle, by name (for tests and for saying where a bundle
// broke).
func Sections(data []byte) (map[string][2]int, error) {
	_, at, err := parse(data)
	return at, err
}

// Parse decodes a bundle, refusing anything but the exact framing.
func Parse(data []byte) (*Bundle, error) {
	b, _, err := parse(data)
	return b, err
}

func parse(data []byte) (*Bundle, map[string][2]int, error) {
	frame := func(f string, a ...any) error {
		return &BrokenError{Proof: "framing", Reason: fmt.Sprintf(f, a...)}
	}
	if len(data) > MaxSize {
		return nil, nil, frame("%d bytes, more than %d", len(data), MaxSize)
	}
	if !bytes.HasPrefix(data, []byte(Magic)) {
		return nil, nil, frame("not a spanvault evidence bundle of version 1 (first line)")
	}
	at := map[string][2]int{}
	var parts [][]byte
	off := len(Magic)
	for _, name := range sections {
		nl := bytes.IndexByte(data[off:min(len(data), off+64)], '\n')
		if nl < 0 {
			return nil, nil, frame("section %s: header missing at byte %d", name, off)
		}
		hdr := string(data[off : off+nl])
		n, ok := strings.CutPrefix(hdr, name+" ")
		if !ok {
			return nil, nil, frame("byte %d: section %s expected, found %q", off, name, hdr)
		}
		size, err := strconv.Atoi(n)
		if err != nil || size < 0 || strconv.Itoa(size) != n {
			return nil, nil, frame("section %s: length %q", name, n)
		}
		off += nl + 1
		if size > len(data)-off-1 {
			return nil, nil, frame("section %s: %d bytes declared, %d left", name, size, len(data)-off)
		}
		at[name] = [2]int{off, off + size}
		parts = append(parts, data[off:off+size])
		off += size
		if data[off] != '\n' {
			return nil, nil, frame("section %s: no line end after its %d bytes", name, size)
		}
		off++
	}
	if off != len(data) {
		return nil, nil, frame("%d bytes after the last section", len(data)-off)
	}
	b := &Bundle{Checkpoint: parts[0], LogKey: string(parts[1]), Recording: parts[2], Entry: parts[3], Ledger: parts[5], LedgerKey: parts[6], LedgerSignature: parts[7], Head: parts[9], Timestamp: parts[11]}
	var err error
	if b.RecordingProof, err = parseProof("recording inclusion", parts[4]); err != nil {
		return nil, nil, err
	}
	if b.LedgerProof, err = parseProof("ledger inclusion", parts[8]); err != nil {
		return nil, nil, err
	}
	if b.HeadProof, err = parseProof("audit head inclusion", parts[10]); err != nil {
		return nil, nil, err
	}
	return b, at, nil
}

// BrokenError says which proof of a bundle does not hold.
type BrokenError struct {
	// Proof is what broke: "framing", "checkpoint signature",
	// "recording hash", "index record", "recording inclusion", "ledger
	// signature", "ledger listing", "ledger inclusion", "audit head
	// inclusion", "timestamp".
	Proof  string
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("evidence: %s broken: %s", e.Proof, e.Reason)
}

// ErrNoTimestampCheck: the bundle holds a time-stamp token and the
// caller gave no way to check it.
var ErrNoTimestampCheck = errors.New("evidence: the bundle holds a time-stamp token and no time-stamp checker was given")

// Options of Verify.
type Options struct {
	// LogKey, when set, is the archive's published log verifier key: the
	// bundle's must be it.
	LogKey string
	// BoxKey, when set, is the box's published audit key.
	BoxKey ed25519.PublicKey
	// CheckTimestamp checks an RFC 3161 token over digest (the SHA-256
	// of the checkpoint section) and returns the time it attests and who
	// signed it. Nil: a bundle with a token fails with ErrNoTimestampCheck.
	CheckTimestamp func(token []byte, digest [32]byte) (time.Time, string, error)
}

// Report is what a bundle proves.
type Report struct {
	Appliance     string
	ID            string
	Day           string
	SHA256        string
	Size          int
	Entry         record.Entry
	Item          ledger.Item
	Ledger        *ledger.Ledger
	LedgerSHA256  string
	LogKey        string
	BoxKey        string // hex SHA-256 of the box's audit key (its fingerprint)
	Tree          tlog.Tree
	HeadSeq       uint64
	TimestampTime time.Time
	TimestampBy   string
	// Proven are the checks that held, in plain words, in order.
	Proven []string
	// Unverified are what held only against the keys the bundle itself
	// carries (a forger makes his own): no archive log key, box key or
	// trusted time-stamping authority was given to compare them with.
	Unverified []string
	// LogKeyChecked: the checkpoint's key is the archive's published one
	// (Options.LogKey). Without it nothing the bundle shows is tied to
	// the archive: the bundle is internally consistent, not proven.
	LogKeyChecked bool
	// BoxKeyChecked: the ledger's key is the box's published one
	// (Options.BoxKey).
	BoxKeyChecked bool
}

// Verify checks every proof of an encoded bundle. The first that does
// not hold is returned as a *BrokenError, with the report of what held
// before it.
func Verify(data []byte, opt Options) (*Report, error) {
	b, err := Parse(data)
	if err != nil {
		return &Report{}, err
	}
	return b.Verify(opt)
}

// Verify checks every proof of the bundle.
func (b *Bundle) Verify(opt Options) (*Report, error) {
	rep := &Report{}
	broke := func(proof, f string, a ...any) (*Report, error) {
		return rep, &BrokenError{Proof: proof, Reason: fmt.Sprintf(f, a...)}
	}
	says := func(f string, a ...any) { rep.Proven = append(rep.Proven, fmt.Sprintf(f, a...)) }

	// The checkpoint, under the log's key.
	if opt.LogKey != "" && strings.TrimSpace(opt.LogKey) != b.LogKey {
		return broke("checkpoint signature", "the bundle's log key %q is not the archive's published key %q", b.LogKey, strings.TrimSpace(opt.LogKey))
	}
	v, err := note.NewVerifier(b.LogKey)
	if err != nil {
		return broke("checkpoint signature", "log key: %v", err)
	}
	n, err := note.Open(b.Checkpoint, note.VerifierList(v))
	if err != nil {
		return broke("checkpoint signature", "%v", err)
	}
	if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
		return broke("checkpoint signature", "the checkpoint carries %d signatures, one by the log key expected", len(n.Sigs)+len(n.UnverifiedSigs))
	}
	// Base64 with stray bits in its last character decodes to the same
	// signature: the bundle's bytes would not all count.
	if _, err := base64.StdEncoding.Strict().DecodeString(n.Sigs[0].Base64); err != nil {
		return broke("checkpoint signature", "the signature is not in canonical base64")
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		return broke("checkpoint signature", "%v", err)
	}
	rep.Tree, rep.LogKey = tree, b.LogKey
	if opt.LogKey != "" {
		rep.LogKeyChecked = true
		says("The checkpoint is signed by the archive's log key %s: the log held %d records with root hash %s.", v.Name(), tree.N, tree.Hash)
	} else {
		rep.Unverified = append(rep.Unverified, fmt.Sprintf("The checkpoint is signed by the log key the bundle itself names (%s, %d records): no archive log key was given to compare it with, so the \"log\" below may be the bundle maker's own.", v.Name(), tree.N))
	}

	// The box's ledger: signature, then its content.
	if len(b.LedgerKey) != ed25519.PublicKeySize || len(b.LedgerSignature) != ed25519.SignatureSize {
		return broke("ledger signature", "key of %d bytes, signature of %d", len(b.LedgerKey), len(b.LedgerSignature))
	}
	if opt.BoxKey != nil && !opt.BoxKey.Equal(ed25519.PublicKey(b.LedgerKey)) {
		return broke("ledger signature", "signed by a key other than the box's published audit key")
	}
	sl := ledger.Signed{Ledger: b.Ledger, Key: b.LedgerKey, Signature: b.LedgerSignature}
	l, err := sl.Open(nil)
	if err != nil {
		return broke("ledger signature", "%v", err)
	}
	fp := sha256.Sum256(b.LedgerKey)
	rep.Ledger, rep.Appliance, rep.Day, rep.BoxKey = l, l.Appliance, l.Day, hex.EncodeToString(fp[:])
	rep.LedgerSHA256 = ledger.Hash(b.Ledger)
	if opt.BoxKey != nil {
		rep.BoxKeyChecked = true
		says("The coverage ledger of %s for %s is signed by the box's audit key (fingerprint %s): %d dialogs.", l.Appliance, l.Day, rep.BoxKey[:16], len(l.Items))
	} else {
		rep.Unverified = append(rep.Unverified, fmt.Sprintf("The coverage ledger of %s for %s (%d dialogs) is signed by the key the bundle names (fingerprint %s), not compared with the box's published audit key (-box-key): the archive's log anchors the ledger's hash, not the key that signed it.", l.Appliance, l.Day, len(l.Items), rep.BoxKey[:16]))
	}

	// The recording and its index record.
	sum := sha256.Sum256(b.Recording)
	rep.SHA256, rep.Size = hex.EncodeToString(sum[:]), len(b.Recording)
	var e record.Entry
	if err := json.Unmarshal(b.Entry, &e); err != nil {
		return broke("index record", "not a JSON index entry: %v", err)
	}
	rep.Entry, rep.ID = e, e.ID
	it := l.Find(e.ID)
	if it == nil {
		return broke("ledger listing", "the ledger of %s does not list recording %q", l.Day, e.ID)
	}
	rep.Item = *it
	if it.SHA256 != rep.SHA256 {
		if e.SHA256 == it.SHA256 {
			return broke("recording hash", "the recording hashes to %s, the box listed %s in its ledger (the recording was altered)", rep.SHA256, it.SHA256)
		}
		return broke("recording hash", "the recording hashes to %s, the ledger lists %s and the index record %s", rep.SHA256, it.SHA256, e.SHA256)
	}
	if e.SHA256 != rep.SHA256 {
		return broke("index record", "the index record names sha256 %s, the recording hashes to %s (the index record was altered)", e.SHA256, rep.SHA256)
	}
	if d := e.Start.UTC().Format(time.DateOnly); d != l.Day {
		return broke("index record", "the recording started on %s, the ledger is of %s", d, l.Day)
	}
	says("The recording %s (%d bytes) hashes to %s, the SHA-256 the box listed for it in its ledger (status %s%s).", e.ID, len(b.Recording), rep.SHA256, it.Status, reasonSuffix(it.Reason))

	check := func(proof string, p Proof, text []byte) error {
		if p.Index >= tree.N {
			return &BrokenError{Proof: proof, Reason: fmt.Sprintf("record %d is beyond the checkpoint's %d records", p.Index, tree.N)}
		}
		if err := tlog.CheckRecord(tlog.RecordProof(p.Hashes), tree.N, tree.Hash, p.Index, tlog.RecordHash(text)); err != nil {
			return &BrokenError{Proof: proof, Reason: fmt.Sprintf("record %d is not in the signed tree of %d records (%v)", p.Index, tree.N, err)}
		}
		return nil
	}
	if err := check("recording inclusion", b.RecordingProof, ledger.RecordingText(l.Appliance, e.ID, rep.SHA256, ledger.Hash(b.Entry))); err != nil {
		return rep, withHint(err, "the recording's index record differs from the one the archive anchored, or the proof was altered")
	}
	says("The recording and its index record (sha256 %s) are record %d of the archive's log, under the signed checkpoint.", ledger.Hash(b.Entry)[:16], b.RecordingProof.Index)
	if err := check("ledger inclusion", b.LedgerProof, ledger.AnchorText(l.Appliance, l.Day, rep.LedgerSHA256)); err != nil {
		return rep, err
	}
	says("The ledger (sha256 %s) is record %d of the archive's log, under the signed checkpoint.", rep.LedgerSHA256[:16], b.LedgerProof.Index)
	seq, ok := parseHead(b.Head, l.Appliance)
	if !ok {
		return broke("audit head inclusion", "the head record is not an audit head of %s", l.Appliance)
	}
	if err := check("audit head inclusion", b.HeadProof, b.Head); err != nil {
		return rep, err
	}
	rep.HeadSeq = seq
	says("The box's audit chain head at entry %d is record %d of the archive's log, under the signed checkpoint.", seq, b.HeadProof.Index)

	if len(b.Timestamp) > 0 {
		if opt.CheckTimestamp == nil {
			return rep, &BrokenError{Proof: "timestamp", Reason: ErrNoTimestampCheck.Error()}
		}
		at, by, err := opt.CheckTimestamp(b.Timestamp, sha256.Sum256(b.Checkpoint))
		if err != nil {
			return broke("timestamp", "%v", err)
		}
		rep.TimestampTime, rep.TimestampBy = at, by
		if strings.HasSuffix(by, untrustedTSA) {
			rep.Unverified = append(rep.Unverified, fmt.Sprintf("time-stamp unverified (no TSA certificate given): the token claims %s attests the checkpoint existed at %s, signed by a certificate the token itself carries.", strings.TrimSuffix(by, untrustedTSA), at.UTC().Format(time.RFC3339)))
			return rep, nil
		}
		says("The time-stamping authority %s attests that the checkpoint existed at %s.", by, at.UTC().Format(time.RFC3339))
	}
	return rep, nil
}

func withHint(err error, hint string) error {
	var be *BrokenError
	if errors.As(err, &be) {
		be.Reason += ": " + hint
	}
	return err
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

// parseHead reads an audit head record (sync/wire.AnchorText) of the
// appliance; the text must be exactly what AnchorText writes.
func parseHead(text []byte, appliance string) (uint64, bool) {
	f := strings.Split(string(text), "\n")
	if len(f) != 5 || f[0] != "spanvault audit head" || f[1] != appliance || f[4] != "" {
		return 0, false
	}
	seq, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil || strconv.FormatUint(seq, 10) != f[2] || len(f[3]) != 64 {
		return 0, false
	}
	return seq, string(text) == fmt.Sprintf("spanvault audit head\n%s\n%d\n%s\n", appliance, seq, f[3])
}
