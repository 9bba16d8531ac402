// Package evidencetest builds forged evidence bundles for tests: a
// bundle made by someone who controls no key of the archive or the box,
// consistent in itself under keys the forger made (his own log signer,
// box key and time-stamping authority). A verifier must not call such a
// bundle proven unless the caller's own keys say so.
package evidencetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/record/evidence"
	"github.com/spanvault/spanvault/record/ledger"
)

// Forged is a forged bundle and the keys the forger made for it.
type Forged struct {
	Bundle  []byte
	LogKey  string            // the forger's log verifier key (note format)
	BoxKey  ed25519.PublicKey // the forger's "box" key that signed the ledger
	TSARoot *x509.Certificate // the forger's self-signed time-stamping authority
}

type hashes map[int64]tlog.Hash

func (h hashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		v, ok := h[x]
		if !ok {
			return nil, fmt.Errorf("hash %d missing", x)
		}
		out[i] = v
	}
	return out, nil
}

// Forge takes a genuine bundle as a template and replaces its recording
// with recording: the index record, the ledger (signed with a new box
// key), a log of three records with its checkpoint (signed with a new
// log key) and a time-stamp at tsaAt (by a new self-signed authority)
// are all made to match.
func Forge(template, recording []byte, tsaAt time.Time) (*Forged, error) {
	b, err := evidence.Parse(template)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(recording)
	sha := hex.EncodeToString(sum[:])
	var e record.Entry
	if err := json.Unmarshal(b.Entry, &e); err != nil {
		return nil, err
	}
	e.SHA256, e.Size = sha, int64(len(recording))
	if b.Entry, err = json.Marshal(e); err != nil {
		return nil, err
	}
	var l ledger.Ledger
	if err := json.Unmarshal(b.Ledger, &l); err != nil {
		return nil, err
	}
	it := l.Find(e.ID)
	if it == nil {
		return nil, fmt.Errorf("template: ledger lists no %s", e.ID)
	}
	it.SHA256, it.Size = sha, int64(len(recording))
	boxPub, boxKey, _ := ed25519.GenerateKey(rand.Reader)
	sl, err := ledger.Sign(&l, boxKey)
	if err != nil {
		return nil, err
	}
	b.Recording, b.Ledger, b.LedgerKey, b.LedgerSignature = recording, sl.Ledger, sl.Key, sl.Signature

	records := [][]byte{b.Head, ledger.AnchorText(l.Appliance, l.Day, ledger.Hash(b.Ledger)), ledger.RecordingText(l.Appliance, e.ID, sha, ledger.Hash(b.Entry))}
	st := hashes{}
	for i, r := range records {
		hs, err := tlog.StoredHashes(int64(i), r, st)
		if err != nil {
			return nil, err
		}
		for j, h := range hs {
			st[tlog.StoredHashIndex(0, int64(i))+int64(j)] = h
		}
	}
	n := int64(len(records))
	th, err := tlog.TreeHash(n, st)
	if err != nil {
		return nil, err
	}
	proof := func(i int64) (evidence.Proof, error) {
		p, err := tlog.ProveRecord(n, i, st)
		return evidence.Proof{Index: i, Hashes: p}, err
	}
	if b.HeadProof, err = proof(0); err != nil {
		return nil, err
	}
	if b.LedgerProof, err = proof(1); err != nil {
		return nil, err
	}
	if b.RecordingProof, err = proof(2); err != nil {
		return nil, err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "test-archive")
	if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	if b.Checkpoint, err = note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: n, Hash: th}))}, signer); err != nil {
		return nil, err
	}
	b.LogKey = vkey

	// A time-stamping authority of the forger's own.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Trusted Time Authority"}, NotBefore: tsaAt.Add(-time.Hour), NotAfter: tsaAt.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	digest := sha256.Sum256(b.Checkpoint)
	ts := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:], Time: tsaAt, Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, AddTSACertificate: true, SerialNumber: big.NewInt(7)}
	resp, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	tok, err := timestamp.ParseResponse(resp)
	if err != nil {
		return nil, err
	}
	b.Timestamp = tok.RawToken
	return &Forged{Bundle: b.Marshal(), LogKey: vkey, BoxKey: boxPub, TSARoot: cert}, nil
}
