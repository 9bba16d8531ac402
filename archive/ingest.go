package archive

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/ca"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/internal/httperr"
	"github.com/spanvault/spanvault/record/auditchain"
	"github.com/spanvault/spanvault/sync/wire"
)

// Refusal texts (both sides show them; tests assert them).
const (
	RefuseNoCert    = "no client certificate presented"
	RefuseOtherCA   = "certificate not issued by this archive's CA"
	RefuseExpired   = "certificate expired beyond the renewal bound"
	RefuseRevoked   = "appliance is revoked"
	RefuseUnknown   = "appliance is not enrolled"
	RefuseName      = "appliance name does not match the certificate"
	RefuseRenewOnly = "certificate expired: only renewal is allowed"
)

// TLSConfig is the ingest listener's TLS: 1.3 only, client certificates
// requested and checked per request by the handler (so that every refusal
// gets a clear answer and an audit entry rather than a bare TLS alert).
func (a *Archive) TLSConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(a.Dir, serverCert), filepath.Join(a.Dir, serverKey))
	if err != nil {
		return nil, fmt.Errorf("archive: server certificate: %w", err)
	}
	// The chain ends with the CA: a box not enrolled yet knows only its
	// fingerprint (zero-touch enrollment, enrollcode.go).
	cert.Certificate = append(cert.Certificate, a.CA.Cert.Raw)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		// The hybrid post-quantum key exchange only (wire.KeyExchanges).
		CurvePreferences: wire.KeyExchanges(),
		// HTTP/1.1 only: when a link is cut mid-upload the handler still
		// reads every byte that arrived (HTTP/2 drops a stream's buffered
		// data on a connection error, and the box would resend it).
		NextProtos: []string{"http/1.1"},
	}, nil
}

// Server returns the ingest HTTP server (not started).
func (a *Archive) Server() (*http.Server, error) {
	tc, err := a.TLSConfig()
	if err != nil {
		return nil, err
	}
	// Every request's body is read under a deadline that moves on only
	// while bytes arrive at UploadMinRate (stallReader).
	return &http.Server{
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		Handler:           a.readDeadlines(a.Handler()),
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(handshakeLog{a}, "", 0),
	}, nil
}

// handshakeLog turns the server's TLS handshake errors (a client offering
// TLS below 1.3, garbage) into audit events.
type handshakeLog struct{ a *Archive }

func (h handshakeLog) Write(b []byte) (int, error) {
	s := strings.TrimSpace(string(b))
	if strings.Contains(s, "TLS handshake error") {
		h.a.Event(context.Background(), "refused", "", "", s, false)
	} else {
		h.a.Logger.Warn("ingest server", "msg", s)
	}
	return len(b), nil
}

// Serve listens on addr (default: the configured address) until ctx ends.
func (a *Archive) Serve(ctx context.Context, ln net.Listener) error {
	srv, err := a.Server()
	if err != nil {
		return err
	}
	go a.sweepPartials(ctx)
	go a.anchorTrailEvery(ctx, 5*time.Second)
	go a.watchRollouts(ctx, time.Minute)
	done := make(chan struct{})
	go func() {
		<-ctx.Done()
		// Requests in flight get two seconds to finish; then connections
		// are closed (an upload cut here resumes later) and Serve returns
		// once every handler has returned, so that the index can close.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		a.inflight.Wait()
		close(done)
	}()
	err = srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

// sweepPartials removes, every hour, partial uploads that received no byte
// for PartialTTL (a day by default). An upload that is slow or paused by
// its window keeps its partial: only idle ones go.
func (a *Archive) sweepPartials(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := a.SweepPartials(ctx); err != nil {
			a.Logger.Warn("partial sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type ctxKey struct{}

// Handler is the ingest API.
func (a *Archive) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathCheckIn, a.checkIn)
	mux.HandleFunc("POST "+wire.PathAudit, a.auditUpload)
	mux.HandleFunc("HEAD "+wire.PathObjects+"{sum}", a.objectHead)
	mux.HandleFunc("PATCH "+wire.PathObjects+"{sum}", a.objectPatch)
	mux.HandleFunc("POST "+wire.PathRecords, a.records)
	mux.HandleFunc("POST "+wire.PathRenew, a.renew)
	mux.HandleFunc("POST "+wire.PathLedger, a.ledgerUpload)
	mux.HandleFunc("GET "+PathUpdate+"{serial}/{part}", a.updateDownload)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.inflight.Add(1)
		defer a.inflight.Done()
		if r.URL.Path == wire.PathEnroll { // the one path without a client certificate
			a.enrollRequest(w, r)
			return
		}
		name, renewOnly, status, why := a.identify(r)
		if status != 0 {
			a.Event(r.Context(), "refused", name, name, fmt.Sprintf("%s %s from %s: %s", r.Method, r.URL.Path, r.RemoteAddr, why), status == http.StatusForbidden && name != "")
			fail(w, status, why)
			return
		}
		if renewOnly && r.URL.Path != wire.PathRenew {
			a.Event(r.Context(), "refused", name, name, RefuseRenewOnly, false)
			fail(w, http.StatusForbidden, RefuseRenewOnly)
			return
		}
		// Bookkeeping after a client vanished (a cut link) must still be
		// written: handlers work on a context that outlives the request.
		ctx := context.WithValue(context.WithoutCancel(r.Context()), ctxKey{}, name)
		mux.ServeHTTP(w, r.WithContext(ctx))
	})
}

// identify checks the client certificate on every request: issued by our
// CA, not expired beyond the bound, enrolled, not revoked, and the one
// the index pins for the name (checkPin).
func (a *Archive) identify(r *http.Request) (name string, renewOnly bool, status int, why string) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", false, http.StatusUnauthorized, RefuseNoCert
	}
	cert := r.TLS.PeerCertificates[0]
	name, err := ca.Name(cert)
	if err != nil {
		return cert.Subject.CommonName, false, http.StatusForbidden, RefuseOtherCA + ": " + err.Error()
	}
	expired, err := a.CA.VerifyClient(cert, time.Duration(a.Config.RenewAfterExpiry))
	if err != nil {
		if expired {
			return name, false, http.StatusForbidden, fmt.Sprintf("%s (%s expired %s)", RefuseExpired, name, cert.NotAfter.UTC().Format(time.RFC3339))
		}
		return name, false, http.StatusForbidden, RefuseOtherCA
	}
	ap, err := a.Index.Appliance(r.Context(), name)
	if errors.Is(err, index.ErrUnknown) {
		return name, false, http.StatusForbidden, RefuseUnknown + ": " + name
	}
	if err != nil {
		return name, false, http.StatusServiceUnavailable, "archive index unavailable: " + err.Error()
	}
	if !ap.RevokedAt.IsZero() {
		return name, false, http.StatusForbidden, RefuseRevoked + ": " + name
	}
	// The pinned certificate only (pin.go).
	if status, why := a.checkPin(r, name, cert); status != 0 {
		return name, false, status, why
	}
	return name, expired, 0, ""
}

func applianceOf(r *http.Request) string { s, _ := r.Context().Value(ctxKey{}).(string); return s }

// fail answers the sync protocol's way (sync/doc.go): status, the text in
// the Spanvault-Error header and {"error": text} as the body (the shape
// of wire.ErrorReply), through the one error writer of both products.
func fail(w http.ResponseWriter, status int, msg string) {
	syncErrors.Write(w, nil, httperr.New(status, msg))
}

// syncErrors writes the sync protocol's refusals: JSON whatever the
// client accepts, the text in the Spanvault-Error header too.
var syncErrors = httperr.Writer{Header: wire.HeaderError, JSONOnly: true}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (a *Archive) checkIn(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), applianceOf(r)
	var m wire.CheckIn
	if err := wire.Decode(r.Body, &m); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if m.Appliance != name {
		a.Event(ctx, "refused", name, name, fmt.Sprintf("%s: check-in claims %q", RefuseName, m.Appliance), true)
		fail(w, http.StatusForbidden, fmt.Sprintf("%s: certificate names %q, message claims %q", RefuseName, name, m.Appliance))
		return
	}
	if m.Head != nil {
		if msg := a.checkHead(ctx, name, *m.Head); msg != "" {
			a.Event(ctx, "audit_tampered", name, name, msg, true)
			fail(w, http.StatusConflict, msg)
			return
		}
	}
	now := a.Now()
	out := wire.CheckInReply{Time: now.UTC()}
	skew := m.Time.Sub(now)
	if math.Abs(skew.Seconds()) > time.Duration(a.Config.MaxClockSkew).Seconds() {
		out.ClockSkew = skew.Seconds()
		a.conditionOn(ctx, name, "clock_skew", fmt.Sprintf("box clock differs from the archive's by %s; its recordings are accepted and flagged", skew.Round(time.Second))) // alert_flap.go
	} else {
		a.conditionOff(ctx, name, "clock_skew", "box clock within max_clock_skew of the archive's again")
	}
	for _, res := range m.Results {
		ok, err := a.Index.Done(ctx, name, res.ID, res.Result, res.Reason, now)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		if ok {
			a.Event(ctx, "command_"+res.Result, name, name, fmt.Sprintf("command %d: %s", res.ID, res.Reason), res.Result == wire.ResultRefused)
			if res.Result == wire.ResultApplied {
				a.afterCommand(ctx, name, res.ID)
			}
		}
	}
	hj, _ := json.Marshal(m.Health)
	if err := a.Index.CheckedIn(ctx, name, now, string(hj), m.TreeSize); err != nil {
		a.internal(w, r, err)
		return
	}
	a.recordHealth(ctx, name, now, m.Health, skew)
	cmds, err := a.Index.Commands(ctx, name, true)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	var ids []int64
	for _, c := range cmds {
		out.Commands = append(out.Commands, wire.Command{ID: c.ID, Kind: c.Kind, Recording: c.Recording, All: c.All, Reason: c.Reason, By: c.By})
		ids = append(ids, c.ID)
	}
	if err := a.Index.Delivered(ctx, ids, now); err != nil {
		a.Logger.Error("marking commands delivered (they go out again)", "appliance", name, "err", err)
	}
	if out.RefusedErasures, err = a.refusalsFor(ctx, name); err != nil {
		a.internal(w, r, err)
		return
	}
	if out.Policy, err = a.policyCheckIn(ctx, name, m.Policy); err != nil {
		a.internal(w, r, err)
		return
	}
	if out.Update, err = a.updateCheckIn(ctx, name, m.Health); err != nil {
		a.internal(w, r, err)
		return
	}
	ap, err := a.Index.Appliance(ctx, name)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out.AnchoredSeq = ap.AnchoredSeq
	cp, err := a.checkpoint(ctx)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out.Checkpoint = cp
	if m.TreeSize > 0 && m.TreeSize <= cp.Size {
		p, err := a.Log.ProveTree(ctx, cp.Size, m.TreeSize)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		for _, h := range p {
			out.Consistency = append(out.Consistency, append([]byte(nil), h[:]...))
		}
	}
	reply(w, out)
}

// checkHead compares a box's current signed head with what the archive
// anchored: it may only have grown. It returns what is wrong, or "".
func (a *Archive) checkHead(ctx context.Context, name string, h wire.Head) string {
	ap, err := a.Index.Appliance(ctx, name)
	if err != nil || ap.AnchoredSeq == 0 {
		return ""
	}
	if len(ap.AuditKey) == ed25519.PublicKeySize && !ed25519.Verify(ed25519.PublicKey(ap.AuditKey), auditchain.HeadMessage(h), h.Signature) {
		return "audit head signed by a key other than the one pinned for this appliance"
	}
	switch {
	case h.Seq < ap.AnchoredSeq:
		return fmt.Sprintf("audit chain truncated: head at %d, the archive anchored %d", h.Seq, ap.AnchoredSeq)
	case h.Seq == ap.AnchoredSeq && h.Hash != ap.AnchoredHash:
		return fmt.Sprintf("audit chain rewritten or forked: entry %d differs from the anchored head", h.Seq)
	}
	return ""
}

// afterCommand makes the archive's own copy follow an applied erase,
// exactly like a box's own erasure (eraseCopy).
func (a *Archive) afterCommand(ctx context.Context, name string, id int64) {
	cs, err := a.Index.Commands(ctx, name, false)
	if err != nil {
		return
	}
	for _, c := range cs {
		if c.ID != id || c.Kind != wire.CmdErase {
			continue
		}
		tomb := index.Record{Entry: `{"reason":"erased by archive command"}`}
		if _, err := a.eraseCopy(ctx, name, c.Recording, c.By, tomb); err != nil {
			a.Logger.Warn("erase at archive", "appliance", name, "recording", c.Recording, "err", err)
		}
	}
}

func (a *Archive) checkpoint(ctx context.Context) (wire.Checkpoint, error) {
	size, hash, note, err := a.Log.Checkpoint(ctx)
	if err != nil {
		return wire.Checkpoint{}, err
	}
	return wire.Checkpoint{Size: size, Hash: append([]byte(nil), hash[:]...), Note: note}, nil
}

func (a *Archive) auditUpload(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), applianceOf(r)
	var m wire.AuditUpload
	if err := wire.Decode(r.Body, &m); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(m.Key) != ed25519.PublicKeySize {
		fail(w, http.StatusBadRequest, "audit key missing or not an Ed25519 public key")
		return
	}
	pinned, err := a.Index.PinKey(ctx, name, m.Key)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if string(pinned) != string(m.Key) {
		msg := "audit head signed by a key other than the one pinned for this appliance"
		a.Event(ctx, "audit_key_changed", name, name, msg, true)
		fail(w, http.StatusConflict, msg)
		return
	}
	ap, err := a.Index.Appliance(ctx, name)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	// A chain shorter than what was anchored was truncated.
	if m.Head.Seq < ap.AnchoredSeq {
		msg := fmt.Sprintf("audit chain truncated: head at %d, the archive anchored %d", m.Head.Seq, ap.AnchoredSeq)
		a.Event(ctx, "audit_tampered", name, name, msg, true)
		fail(w, http.StatusConflict, msg)
		return
	}
	if m.Head.Seq == ap.AnchoredSeq && len(m.Entries) == 0 {
		if m.Head.Hash != ap.AnchoredHash {
			msg := fmt.Sprintf("audit chain rewritten: entry %d differs from the anchored head", m.Head.Seq)
			a.Event(ctx, "audit_tampered", name, name, msg, true)
			fail(w, http.StatusConflict, msg)
			return
		}
	}
	if err := auditchain.CheckLinks(ap.AnchoredHash, ap.AnchoredSeq+1, m.Entries, m.Head, ed25519.PublicKey(pinned)); err != nil {
		msg := "audit chain does not extend the anchored one (rewritten, truncated or forked): " + err.Error()
		a.Event(ctx, "audit_tampered", name, name, msg, true)
		fail(w, http.StatusConflict, msg)
		return
	}
	es := make([]index.AuditEntry, len(m.Entries))
	for i, e := range m.Entries {
		b, _ := json.Marshal(e)
		es[i] = index.AuditEntry{Seq: e.Seq, Hash: e.Hash, Prev: e.Prev, Entry: string(b)}
	}
	if err := a.Index.AddAudit(ctx, name, es, m.Head.Seq, m.Head.Hash); err != nil {
		a.internal(w, r, err)
		return
	}
	text := wire.AnchorText(name, m.Head.Seq, m.Head.Hash)
	n, err := a.Log.Append(ctx, name, m.Head.Seq, text)
	if err != nil {
		a.internal(w, r, err)
		return
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
	out := wire.AuditReply{Index: n, Checkpoint: cp}
	for _, h := range p {
		out.Inclusion = append(out.Inclusion, append([]byte(nil), h[:]...))
	}
	reply(w, out)
}

// objectHead answers for the asking box's own upload only: complete
// when the object is the box's and held, else the offset of the box's
// own partial (another box's object or partial is not reported).
func (a *Archive) objectHead(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), applianceOf(r)
	sum := r.PathValue("sum")
	if !wire.ValidHash(sum) {
		fail(w, http.StatusBadRequest, "object address is not a hex SHA-256")
		return
	}
	owner, err := a.Index.ObjectOwner(ctx, sum)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	var in store.Info
	if owner == name {
		if in, err = a.Store.Stat(ctx, sum); err != nil {
			a.internal(w, r, err)
			return
		}
	}
	if !in.Complete {
		if in, err = a.Store.Partial(ctx, name, sum); err != nil {
			a.internal(w, r, err)
			return
		}
	}
	w.Header().Set(wire.HeaderOffset, strconv.FormatInt(in.Offset, 10))
	if in.Complete {
		w.Header().Set(wire.HeaderComplete, "1")
	}
	w.WriteHeader(http.StatusOK)
}

// objectPatch appends to the box's own partial of the object. Before any
// byte is read: the declared length is checked against MaxRecording
// (413), the object against its owner (another box's: 409, alerted) and
// the box's unfinished uploads against PartialQuota (507). The body is
// read under the stall deadline (408 when it passes, the bytes that
// arrived kept). A completed upload makes the box the object's owner.
func (a *Archive) objectPatch(w http.ResponseWriter, r *http.Request) {
	defer store.StepTimes.Since("PATCH handler (whole)", time.Now())
	ctx, name := r.Context(), applianceOf(r)
	sum := r.PathValue("sum")
	if !wire.ValidHash(sum) {
		fail(w, http.StatusBadRequest, "object address is not a hex SHA-256")
		return
	}
	off, err := wire.ParseOffset(r.Header.Get(wire.HeaderOffset))
	if err != nil {
		fail(w, http.StatusBadRequest, wire.HeaderOffset+": "+err.Error())
		return
	}
	length, err := wire.ParseOffset(r.Header.Get(wire.HeaderLength))
	if err != nil || length == 0 || off > length {
		fail(w, http.StatusBadRequest, wire.HeaderLength+": missing or smaller than the offset")
		return
	}
	if limit := int64(a.Config.MaxRecording); length > limit {
		msg := fmt.Sprintf("%s: %d bytes is over the archive's maximum recording size of %d", wire.HeaderLength, length, limit)
		a.Event(ctx, "upload_refused", name, name, sum+": "+msg, true)
		fail(w, http.StatusRequestEntityTooLarge, msg)
		return
	}
	owner, err := a.Index.ObjectOwner(ctx, sum)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if owner != "" && owner != name {
		fail(w, http.StatusConflict, a.ownershipConflict(ctx, name, owner, sum, "uploads"))
		return
	}
	if owner == name {
		if in, err := a.Store.Stat(ctx, sum); err == nil && in.Complete {
			// Idempotent: already held for this box.
			w.Header().Set(wire.HeaderOffset, strconv.FormatInt(in.Offset, 10))
			w.Header().Set(wire.HeaderComplete, "1")
			w.WriteHeader(http.StatusCreated)
			return
		}
	}
	t0 := time.Now()
	release, err := a.reserveUpload(ctx, name, sum, length)
	store.StepTimes.Since("reserve upload (quota)", t0)
	if errors.Is(err, errQuota) {
		a.Event(ctx, "upload_refused", name, name, sum+": "+err.Error(), true)
		fail(w, http.StatusInsufficientStorage, err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	defer release()
	t0 = time.Now()
	in, n, err := a.appendUpload(ctx, r, name, sum, off, length, a.stallReader(w, r.Body), owner == "")
	store.StepTimes.Since("store append (receive, stage, publish)", t0)
	if n > 0 {
		if err := a.Index.AddBytes(ctx, name, n); err != nil {
			a.Logger.Error("counting received bytes", "appliance", name, "err", err)
		}
	}
	if err == nil && in.Complete {
		t0 = time.Now()
		owner, err = a.Index.ClaimObject(ctx, sum, name, length, a.Now())
		store.StepTimes.Since("index: claim object", t0)
		t0 = time.Now()
		a.noteSealing(ctx, sum) // hybrid or classical (reseal.go)
		store.StepTimes.Since("note sealing (reads the stored header)", t0)
		if err == nil && owner != name {
			fail(w, http.StatusConflict, a.ownershipConflict(ctx, name, owner, sum, "uploads"))
			return
		}
	}
	w.Header().Set(wire.HeaderOffset, strconv.FormatInt(in.Offset, 10))
	switch {
	case errors.Is(err, store.ErrOffset):
		fail(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrMismatch):
		a.Event(ctx, "upload_hash_mismatch", name, name, err.Error(), true)
		fail(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, store.ErrNoSpace):
		a.Event(ctx, "store_full", name, name, err.Error(), true)
		fail(w, http.StatusInsufficientStorage, err.Error())
	case stalled(err):
		fail(w, http.StatusRequestTimeout, fmt.Sprintf("upload stalled: fewer than %d bytes per second over %s; the %d bytes received are kept", int64(a.Config.UploadMinRate), time.Duration(a.Config.UploadStall), in.Offset))
	case err != nil:
		a.internal(w, r, err)
	case in.Complete:
		w.Header().Set(wire.HeaderComplete, "1")
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (a *Archive) records(w http.ResponseWriter, r *http.Request) {
	defer store.StepTimes.Since("records handler (whole)", time.Now())
	ctx, name := r.Context(), applianceOf(r)
	var m wire.Records
	if err := wire.Decode(r.Body, &m); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	now := a.Now()
	out := wire.RecordsReply{Acks: make([]wire.Ack, len(m.Records))}
	var rows []index.Record
	var okIdx []int
	// Recordings are admitted in runs, at once (admit.go); a tombstone
	// waits for the recordings before it.
	var run []admission
	admitRun := func() {
		a.admitAll(ctx, name, run)
		for _, ad := range run {
			if ad.msg != "" {
				out.Acks[ad.i].Error = ad.msg
				continue
			}
			rows = append(rows, ad.row)
			okIdx = append(okIdx, ad.i)
		}
		run = run[:0]
	}
	for i := range m.Records {
		rec := &m.Records[i]
		out.Acks[i] = wire.Ack{ID: rec.ID, Kind: rec.Kind}
		if err := rec.Validate(); err != nil {
			out.Acks[i].Error = err.Error()
			continue
		}
		row := index.Record{Appliance: name, ID: rec.ID, Kind: rec.Kind, Start: rec.Start, Class: rec.Class, Hold: rec.Hold, Recorded: rec.Recorded,
			Size: rec.Size, SHA256: rec.SHA256, DeletedAt: rec.DeletedAt, Entry: string(rec.Entry.Raw()), Sealed: rec.Sealed, Subject: rec.Subject, ReceivedAt: now}
		if rec.Kind != wire.KindTombstone {
			row.RetainUntil = rec.Start.Add(a.Config.retentionOf(rec.Class))
		} else {
			admitRun()
			if err := a.ingestTombstone(ctx, name, rec, &row); err != nil {
				out.Acks[i].Error = err.Error()
				continue
			}
		}
		if rec.Kind == wire.KindRecording {
			// Only the box's own object; retention and hold by the
			// archive's rules (owner.go), never lowered by the record.
			run = append(run, admission{i: i, rec: rec, row: row})
			continue
		}
		rows = append(rows, row)
		okIdx = append(okIdx, i)
	}
	admitRun()
	t0 := time.Now()
	if err := a.Index.PutRecords(ctx, rows); err != nil {
		a.internal(w, r, err)
		return
	}
	store.StepTimes.Since("index: commit records", t0)
	t0 = time.Now()
	recs := 0
	for _, i := range okIdx {
		out.Acks[i].OK = true
		if m.Records[i].Kind == wire.KindRecording {
			recs++
		}
	}
	if len(okIdx) > 0 {
		a.Event(ctx, "ingest", name, name, fmt.Sprintf("%d records acknowledged (%d recordings), %d refused", len(okIdx), recs, len(m.Records)-len(okIdx)), false)
	}
	store.StepTimes.Since("ingest event + acknowledgement", t0)
	t0 = time.Now()
	reply(w, out)
	store.StepTimes.Since("reply", t0)
}

func (a *Archive) renew(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), applianceOf(r)
	var m wire.RenewRequest
	if err := wire.Decode(r.Body, &m); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	csr, err := x509.ParseCertificateRequest(m.CSR)
	if err == nil {
		err = csr.CheckSignature()
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "certificate request: "+err.Error())
		return
	}
	der, err := a.CA.Issue(ca.Client, name, nil, csr.PublicKey, time.Duration(a.Config.CertLifetime))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	// The new certificate is pinned before it is handed out.
	if status, why := a.pinRenewed(ctx, name, r.TLS.PeerCertificates[0], der); status != 0 {
		a.Event(ctx, "refused", name, name, "renewal: "+why, status == http.StatusConflict)
		fail(w, status, why)
		return
	}
	a.Event(ctx, "renew", name, name, "certificate renewed until "+a.Now().Add(time.Duration(a.Config.CertLifetime)).UTC().Format(time.RFC3339), false)
	reply(w, wire.RenewReply{Cert: der, CA: a.CA.Cert.Raw})
}
