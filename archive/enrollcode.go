package archive

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/spanvault/spanvault/archive/ca"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/internal/units"
	"github.com/spanvault/spanvault/sync/wire"
)

// Zero-touch enrollment (sync/doc.go, Enrollment). A box built for this
// archive knows only its addresses and the CA's fingerprint. On first
// boot it makes its keys and asks PathEnroll, without a client
// certificate, for certificates; the archive records the request under
// the box's enrollment code (wire.EnrollCode of its sync key) and answers
// "pending". An admin who reads the code off the box (its status page,
// its LED) approves it with a name (Approve: spanvault-archive approve,
// or the fleet page); the archive issues and pins the certificates then,
// and hands them out with the sync settings at the box's next request.
//
//   - A request unapproved for EnrollTTL, or not asked again for
//     EnrollIdle (enrollprefix.go), expires: its code cannot be approved
//     any more, and the box starts over with a new key.
//   - A code typed wrong names no request and approves nothing; codes are
//     80 bits, and requests are rate-limited per source network (/24 and
//     /16; /64, /48 and /32) and overall before anything is parsed, with
//     at most MaxPendingPerPrefix pending per /24 or /64,
//     MaxPendingPer48 per /48, MaxPendingPer32 per /32 or /16, and
//     MaxPendingEnrollments in all (enrollprefix.go).
//   - An enrolled name is refused unless the approval is an explicit,
//     audited replacement (a reason), exactly as Replace.
const (
	EnrollTTL             = 24 * time.Hour
	MaxPendingEnrollments = 1000
	// enrollKeep: approved requests are kept this long (the box fetches
	// its certificates at its next request), then swept.
	enrollKeep = 7 * 24 * time.Hour
)

// Refusals of the enrollment endpoint and of Approve.
const (
	RefuseEnrollRate    = "too many enrollment requests: try again later"
	RefuseEnrollFull    = "too many enrollment requests pending: try again later"
	RefuseEnrollExpired = "enrollment request expired: the box starts over with a new code"
	ErrTextNoCode       = "no pending enrollment request has this code"
)

// ErrEnrollCode: Approve found no pending, unexpired request with the code.
var ErrEnrollCode = errors.New("archive: " + ErrTextNoCode)

// enrollLimiter bounds enrollment requests overall and per source
// network (sourcePrefix); allow is in enrolllimit.go.
type enrollLimiter struct {
	mu      sync.Mutex
	all     *rate.Limiter
	sources map[string]*rate.Limiter
	swept   time.Time // the last dropIdle
}

// enrollRequest serves PathEnroll (no client certificate needed).
func (a *Archive) enrollRequest(w http.ResponseWriter, r *http.Request) {
	ctx := context.WithoutCancel(r.Context())
	src, _, _ := net.SplitHostPort(r.RemoteAddr)
	if r.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, "enrollment: POST only")
		return
	}
	// Before anything is read or parsed.
	if !a.enrollLimit.allow(src, a.Now()) {
		fail(w, http.StatusTooManyRequests, RefuseEnrollRate)
		return
	}
	var m wire.EnrollRequest
	body := http.MaxBytesReader(w, r.Body, wire.MaxEnrollMessage)
	if err := wire.Decode(io.LimitReader(body, wire.MaxEnrollMessage), &m); err != nil {
		fail(w, http.StatusBadRequest, "enrollment: "+err.Error())
		return
	}
	if err := m.Validate(); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	csr, err := parseCSR(m.CSR)
	if err != nil {
		fail(w, http.StatusBadRequest, "enrollment: csr: "+err.Error())
		return
	}
	if _, err := parseCSR(m.APICSR); err != nil {
		fail(w, http.StatusBadRequest, "enrollment: api_csr: "+err.Error())
		return
	}
	code, err := wire.EnrollCode(csr.PublicKey)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	now := a.Now()
	e, err := a.Index.Enrollment(ctx, code)
	if errors.Is(err, index.ErrNoEnrollment) {
		if _, err := a.Index.SweepEnrollments(ctx, now, enrollKeep); err != nil {
			a.internal(w, r, err)
			return
		}
		n, err := a.Index.CountPendingEnrollments(ctx, now)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		if n >= MaxPendingEnrollments {
			a.Event(ctx, "refused", "", "", fmt.Sprintf("enrollment request from %s: %s (%d pending)", src, RefuseEnrollFull, n), false)
			fail(w, http.StatusServiceUnavailable, RefuseEnrollFull)
			return
		}
		sources, err := a.Index.PendingEnrollmentSources(ctx, now)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		if p, n, full := prefixFull(sources, src); full {
			a.Event(ctx, "refused", "", "", fmt.Sprintf("enrollment request from %s: %s (%d pending from %s)", src, RefuseEnrollPrefix, n, p), false)
			fail(w, http.StatusTooManyRequests, RefuseEnrollPrefix)
			return
		}
		ne := index.Enrollment{Code: code, CSR: base64.StdEncoding.EncodeToString(m.CSR), APICSR: base64.StdEncoding.EncodeToString(m.APICSR),
			Hosts: strings.Join(m.Hosts, ","), Source: src, RequestedAt: now, ExpiresAt: enrollExpiry(now, now)}
		added, err := a.Index.AddEnrollment(ctx, ne)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		if added {
			a.Event(ctx, "enroll_requested", "", "", fmt.Sprintf("enrollment code %s requested from %s, expires %s", code, src, ne.ExpiresAt.UTC().Format(time.RFC3339)), false)
		}
		if e, err = a.Index.Enrollment(ctx, code); err != nil {
			a.internal(w, r, err)
			return
		}
	} else if err != nil {
		a.internal(w, r, err)
		return
	}
	switch {
	case e.ApprovedAt.IsZero() && now.After(e.ExpiresAt):
		fail(w, http.StatusGone, RefuseEnrollExpired)
		return
	case e.ApprovedAt.IsZero():
		// Asked again: alive for EnrollIdle more (within EnrollTTL).
		if until := enrollExpiry(e.RequestedAt, now); until.After(e.ExpiresAt) {
			ok, err := a.Index.RenewEnrollment(ctx, code, now, until)
			if err != nil {
				a.internal(w, r, err)
				return
			}
			if ok {
				e.ExpiresAt = until
			}
		}
		w.WriteHeader(http.StatusAccepted)
		reply(w, wire.EnrollReply{State: wire.EnrollPending, Code: code, ExpiresAt: e.ExpiresAt})
		return
	}
	rep, err := a.enrollReply(e)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.Event(ctx, "enroll_delivered", e.Name, e.Name, fmt.Sprintf("certificates for enrollment code %s handed out to %s", code, src), false)
	reply(w, rep)
}

func parseCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, err
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("key: only P-256")
		}
	case ed25519.PublicKey:
	default:
		return nil, errors.New("key: only P-256 or Ed25519")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, err
	}
	return csr, nil
}

// enrollReply is what an approved box receives.
func (a *Archive) enrollReply(e *index.Enrollment) (wire.EnrollReply, error) {
	cert, err := base64.StdEncoding.DecodeString(e.Cert)
	if err != nil {
		return wire.EnrollReply{}, err
	}
	api, err := base64.StdEncoding.DecodeString(e.APICert)
	if err != nil {
		return wire.EnrollReply{}, err
	}
	pk, err := a.PolicyPublicKey()
	if err != nil {
		return wire.EnrollReply{}, err
	}
	uk, err := a.UpdatePublicKey()
	if err != nil {
		return wire.EnrollReply{}, err
	}
	addrs := a.Config.Advertise
	if len(addrs) == 0 {
		addrs = []string{a.Config.Listen}
	}
	settings := a.Config.Enroll.wire()
	settings.Archives = addrs
	return wire.EnrollReply{State: wire.EnrollApproved, Code: e.Code, Name: e.Name, Cert: cert, APICert: api, CA: a.CA.Cert.Raw,
		AnchorKey: a.Log.VerifierKey(), PolicyKey: pk, UpdateKey: uk,
		Sync: settings}, nil
}

// Approve approves the pending enrollment request with code (as a person
// typed it) for name: it issues the box's sync and API certificates and
// pins the sync one, like Enroll; with replace (a reason) it is the
// explicit replacement of an enrolled name's box, like Replace. A code
// that names no pending, unexpired request approves nothing
// (ErrEnrollCode); by is audited.
func (a *Archive) Approve(ctx context.Context, code, name, by, replace string) error {
	c := wire.NormalizeCode(code)
	if !wire.ValidName(name) {
		return fmt.Errorf("archive: appliance name %q: use lower-case letters, digits, dots and dashes", name)
	}
	var e *index.Enrollment
	var err error
	if c != "" {
		e, err = a.Index.Enrollment(ctx, c)
	}
	now := a.Now()
	switch {
	case c == "" || errors.Is(err, index.ErrNoEnrollment):
		a.Event(ctx, "enroll_refused", by, name, fmt.Sprintf("approval of code %q for %s: %s", code, name, ErrTextNoCode), false)
		return ErrEnrollCode
	case err != nil:
		return err
	case !e.ApprovedAt.IsZero():
		return fmt.Errorf("archive: code %s was approved already (for %s)", c, e.Name)
	case now.After(e.ExpiresAt):
		a.Event(ctx, "enroll_refused", by, name, fmt.Sprintf("approval of code %s for %s: the request expired %s", c, name, e.ExpiresAt.UTC().Format(time.RFC3339)), false)
		return fmt.Errorf("archive: the enrollment request with code %s expired at %s: the box asks again with a new code", c, e.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err := a.enrollable(ctx, name, replace != ""); err != nil {
		return err
	}
	csrDER, err := base64.StdEncoding.DecodeString(e.CSR)
	if err != nil {
		return err
	}
	apiDER, err := base64.StdEncoding.DecodeString(e.APICSR)
	if err != nil {
		return err
	}
	csr, err := parseCSR(csrDER)
	if err != nil {
		return err
	}
	apiCSR, err := parseCSR(apiDER)
	if err != nil {
		return err
	}
	lifetime := time.Duration(a.Config.CertLifetime)
	der, err := a.CA.Issue(ca.Client, name, nil, csr.PublicKey, lifetime)
	if err != nil {
		return err
	}
	hosts, err := a.apiHosts(e.Hosts)
	if err != nil {
		return err
	}
	api, err := a.CA.Issue(ca.Server, name, hosts, apiCSR.PublicKey, lifetime)
	if err != nil {
		return err
	}
	// Pinned first: a certificate is never handed out for a name that
	// another approval or enroll took meanwhile.
	if err := a.pinEnrolled(ctx, name, der, replace, by); err != nil {
		return err
	}
	ok, err := a.Index.ApproveEnrollment(ctx, index.Enrollment{Code: c, Name: name, ApprovedAt: now, ApprovedBy: by,
		Cert: base64.StdEncoding.EncodeToString(der), APICert: base64.StdEncoding.EncodeToString(api)})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("archive: the enrollment request with code %s was approved meanwhile: %s is pinned to a certificate no box holds; replace it (approve -replace) with the box's new code", c, name)
	}
	a.Event(ctx, "enroll_approved", by, name, fmt.Sprintf("enrollment code %s (requested from %s at %s) approved as %s", c, e.Source, e.RequestedAt.UTC().Format(time.RFC3339), name), false)
	return nil
}

// EnrollConfig is the [enroll] section: the sync settings an approved box
// receives (empty: window 01:00-05:00, rate 1MB, check-in every 5m).
type EnrollConfig struct {
	// FourEyes: an approval by one admin is filed, and a second, other
	// admin's approval of the same code and name approves it.
	FourEyes     bool           `toml:"four_eyes"`
	Window       string         `toml:"window"`
	Rate         Size           `toml:"rate"`
	CheckInEvery units.Duration `toml:"check_in_every"`
}

func (c EnrollConfig) wire() wire.EnrollSync {
	s := wire.EnrollSync{Window: c.Window, Rate: int64(c.Rate), CheckInEvery: int64(time.Duration(c.CheckInEvery) / time.Second)}
	if s.Window == "" {
		s.Window = "01:00-05:00"
	}
	if s.Rate == 0 {
		s.Rate = 1_000_000
	}
	if s.CheckInEvery <= 0 {
		s.CheckInEvery = 300
	}
	return s
}

// ApproveFourEyes is Approve under the four-eyes rule when [enroll]
// four_eyes is set, and always for a replacement (replace set: giving a
// box that asked from anywhere an enrolled name's identity): the first admin's approval is filed (audited); the
// approval of a second admin for the same code, name and replacement
// approves it. The same admin twice, or another name, approves nothing.
// It reports whether the request is approved now.
func (a *Archive) ApproveFourEyes(ctx context.Context, code, name, by, replace string) (bool, error) {
	if !a.Config.Enroll.FourEyes && replace == "" {
		return true, a.Approve(ctx, code, name, by, replace)
	}
	c := wire.NormalizeCode(code)
	var e *index.Enrollment
	var err error
	if c != "" {
		e, err = a.Index.Enrollment(ctx, c)
	}
	switch {
	case c == "" || errors.Is(err, index.ErrNoEnrollment):
		a.Event(ctx, "enroll_refused", by, name, fmt.Sprintf("approval of code %q for %s: %s", code, name, ErrTextNoCode), false)
		return false, ErrEnrollCode
	case err != nil:
		return false, err
	case !wire.ValidName(name):
		return false, fmt.Errorf("archive: appliance name %q: use lower-case letters, digits, dots and dashes", name)
	}
	if e.FiledBy == "" || e.FiledName != name || e.FiledReplace != replace {
		if err := a.enrollable(ctx, name, replace != ""); err != nil {
			return false, err
		}
		ok, err := a.Index.FileEnrollment(ctx, c, name, by, replace, a.Now())
		if err != nil {
			return false, err
		}
		if !ok {
			return false, fmt.Errorf("archive: the enrollment request with code %s was approved or expired meanwhile", c)
		}
		a.Event(ctx, "enroll_filed", by, name, fmt.Sprintf("approval of enrollment code %s as %s filed: a second admin confirms it", c, name), false)
		return false, nil
	}
	if e.FiledBy == by {
		return false, fmt.Errorf("archive: %s filed this approval: a second admin confirms it (four-eyes)", by)
	}
	return true, a.Approve(ctx, c, name, by+" (filed by "+e.FiledBy+")", replace)
}

func (c EnrollConfig) validate() error {
	if c.Window != "" {
		var h1, m1, h2, m2 int
		if _, err := fmt.Sscanf(c.Window, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil || h1 < 0 || h1 > 23 || h2 < 0 || h2 > 24 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59 {
			return fmt.Errorf("enroll.window: %q is not a window like 01:00-05:00", c.Window)
		}
	}
	if c.Rate < 0 {
		return errors.New("enroll.rate: negative")
	}
	if c.CheckInEvery != 0 && time.Duration(c.CheckInEvery) < 10*time.Second {
		return errors.New("enroll.check_in_every: below 10s")
	}
	return nil
}

// apiHosts are the addresses a box asked to have in its API certificate
// that it may have: IP addresses only (a name is the box's own, its
// certificate's first), and none the archive's own server certificate
// names or its configuration advertises: a box's API certificate is a
// server certificate of the same CA, and must not pass for the archive.
func (a *Archive) apiHosts(asked string) ([]string, error) {
	if asked == "" {
		return nil, nil
	}
	own := map[string]bool{}
	srv, err := ca.ReadCert(filepath.Join(a.Dir, serverCert))
	if err != nil {
		return nil, fmt.Errorf("archive: server certificate: %w", err)
	}
	for _, ip := range srv.IPAddresses {
		own[ip.String()] = true
	}
	for _, ad := range append(append([]string{}, a.Config.Advertise...), a.Config.Listen) {
		if h, _, err := net.SplitHostPort(ad); err == nil {
			if ip := net.ParseIP(h); ip != nil {
				own[ip.String()] = true
			}
		}
	}
	var out []string
	for _, h := range strings.Split(asked, ",") {
		ip := net.ParseIP(h)
		if ip == nil || own[ip.String()] || ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() {
			continue
		}
		out = append(out, ip.String())
	}
	return out, nil
}
