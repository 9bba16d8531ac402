package archive

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spanvault/spanvault/archive/ca"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// Refusals of a certificate of this archive's CA for an enrolled name
// that is not the one the index pins (both sides show them; tests assert
// them).
const (
	RefuseCertRevoked = "certificate is revoked"
	RefuseNotPinned   = "certificate is not the one pinned for this appliance"
	RefuseSuperseded  = "certificate was renewed: it may only retry the renewal until its successor is used"
	RefuseUnpinnable  = "no certificate can be pinned for this appliance"
	RefusePinMoved    = "the appliance's pinned certificate changed during the renewal"
)

// Revocation that sticks. The index pins each appliance's current client
// certificate (serial and public key) and an enrolment epoch:
//
//   - every request must come with the pinned certificate; any other of
//     this CA for the same name is refused (RefuseNotPinned), and a
//     revoked serial is refused for good (RefuseCertRevoked), whatever
//     happens to the name later;
//   - renewal needs the pinned certificate and pins the one it issues;
//     the renewed one may retry the renewal only (its reply may have been
//     lost) until the new one is first used, and is retired then;
//   - Enroll refuses an enrolled name; Replace (and approve -replace) revokes
//     every serial of the name, bumps the epoch, pins the new certificate
//     and resets the pinned audit key, with an alert;
//   - Revoke revokes the name and every serial pinned to it.
//
// An index from before pinning (no serial pinned for a name) pins the
// first certificate of this CA that the box presents after the upgrade,
// logged as cert_pinned: every certificate of the name until then was
// one the archive issued to it. A name the trail shows revoked before
// then is the exception: the old code's re-enrolment left two valid
// certificates for it (the stolen box's and its replacement's), so none
// is trusted on first use, and the name must be replaced
// (RefuseUnpinnable says so). An index restored from a backup taken
// before a box's last renewal pins the certificate the box renewed from,
// which is retired on the box: that box is refused until it is replaced.

// checkPin checks a CA-valid certificate of an enrolled, unrevoked name
// against the index's pin; it returns a refusal, or status 0.
func (a *Archive) checkPin(r *http.Request, name string, cert *x509.Certificate) (status int, why string) {
	ctx := r.Context()
	serial, key := ca.Fingerprint(cert)
	unavailable := func(err error) (int, string) {
		return http.StatusServiceUnavailable, "archive index unavailable: " + err.Error()
	}
	reason, revoked, err := a.Index.SerialRevoked(ctx, serial)
	if err != nil {
		return unavailable(err)
	}
	if revoked {
		return http.StatusForbidden, fmt.Sprintf("%s: %s serial %s (%s)", RefuseCertRevoked, name, serial, reason)
	}
	pin, err := a.Index.Pin(ctx, name)
	if err != nil {
		return unavailable(err)
	}
	if pin.Serial == "" {
		before, err := a.Index.RevokedBeforePinning(ctx, name)
		if err != nil {
			return unavailable(err)
		}
		if before {
			return http.StatusForbidden, fmt.Sprintf("%s: %s was revoked before certificates were pinned, so no certificate of it is trusted on first use: re-enrol it as a replacement (spanvault-archive approve -replace, two admins)", RefuseUnpinnable, name)
		}
		ok, err := a.Index.PinFirst(ctx, name, serial, key)
		if err != nil {
			return unavailable(err)
		}
		if ok {
			a.Event(ctx, "cert_pinned", name, name, fmt.Sprintf("first certificate presented since certificates are pinned: serial %s until %s; any other certificate of %s is refused from now on",
				serial, cert.NotAfter.UTC().Format(time.RFC3339), name), false)
			return 0, ""
		}
		if pin, err = a.Index.Pin(ctx, name); err != nil { // another request pinned one first
			return unavailable(err)
		}
	}
	switch {
	case serial == pin.Serial && key == pin.Key:
		if pin.Prev != "" {
			old, err := a.Index.UsePin(ctx, name, serial, a.Now())
			if err != nil {
				return unavailable(err)
			}
			if old != "" {
				a.Event(ctx, "cert_retired", name, name, fmt.Sprintf("serial %s retired for good: its renewal, serial %s, is in use", old, serial), false)
			}
		}
		return 0, ""
	case pin.Prev != "" && serial == pin.Prev:
		if r.URL.Path == wire.PathRenew {
			return 0, ""
		}
		return http.StatusForbidden, fmt.Sprintf("%s: %s serial %s was renewed as serial %s", RefuseSuperseded, name, serial, pin.Serial)
	}
	return http.StatusForbidden, fmt.Sprintf("%s: %s presented serial %s, the archive pins serial %s (enrolment epoch %d)", RefuseNotPinned, name, serial, pin.Serial, pin.Epoch)
}

// pinRenewed pins the certificate a renewal issued (renew calls it before
// answering); from is the certificate the request came with.
func (a *Archive) pinRenewed(ctx context.Context, name string, from *x509.Certificate, der []byte) (status int, why string) {
	nc, err := x509.ParseCertificate(der)
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	old, _ := ca.Fingerprint(from)
	serial, key := ca.Fingerprint(nc)
	revoked, err := a.Index.Renewed(ctx, name, old, index.Pin{Serial: serial, Key: key}, a.Now())
	if errors.Is(err, index.ErrPinMoved) {
		return http.StatusConflict, fmt.Sprintf("%s: %s serial %s", RefusePinMoved, name, old)
	}
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	if len(revoked) > 0 {
		a.Event(ctx, "cert_retired", name, name, fmt.Sprintf("serials %s revoked for good at the renewal of serial %s", strings.Join(revoked, ", "), old), false)
	}
	return 0, ""
}

// Replace re-enrols an enrolled name for a replacement box (offline; at
// the command line replacements take two admins: approve -replace): it issues and writes the box's files like Enroll,
// revokes every certificate serial of the name for good (the old box's,
// stolen or broken), lifts a revocation of the name, bumps its enrolment
// epoch, pins the new certificate, and resets the pinned audit key and
// anchored head (the new box's audit key is pinned at its first audit
// upload), with an alert for the DPO. reason is required and audited.
func (a *Archive) Replace(ctx context.Context, name, out string, apiHosts []string, reason string) (*EnrollResult, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, errors.New("archive: a replacement needs a reason (it is audited)")
	}
	return a.enroll(ctx, name, out, apiHosts, reason, NoPerson)
}

// enrollable refuses to enrol an enrolled name unless replacing, and to
// replace an unknown one.
func (a *Archive) enrollable(ctx context.Context, name string, replace bool) error {
	_, err := a.Index.Appliance(ctx, name)
	switch {
	case err == nil && !replace:
		return errEnrolled(name)
	case errors.Is(err, index.ErrUnknown) && replace:
		return fmt.Errorf("archive: %s is not enrolled: there is no box to replace (enrol it without -replace)", name)
	case err != nil && !errors.Is(err, index.ErrUnknown):
		return err
	}
	return nil
}

func errEnrolled(name string) error {
	return fmt.Errorf("archive: %s is enrolled already: enrolling it again replaces its box, which two admins approve: the new box asks with its code, spanvault-archive approve -replace -reason WHY (two runs, two admins) revokes the old certificates for good and resets the pinned audit key", name)
}

// pinEnrolled records an enrolment (replace "") or a replacement (replace
// is its reason) with the certificate it issued, the trail naming by.
func (a *Archive) pinEnrolled(ctx context.Context, name string, der []byte, replace, by string) error {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	serial, key := ca.Fingerprint(cert)
	p := index.Pin{Serial: serial, Key: key}
	until := cert.NotAfter.UTC().Format(time.RFC3339)
	if replace == "" {
		if err := a.Index.EnrollPinned(ctx, name, p, a.Now()); errors.Is(err, index.ErrEnrolled) {
			return errEnrolled(name)
		} else if err != nil {
			return err
		}
		a.Event(ctx, "enroll", by, name, fmt.Sprintf("certificate issued until %s (serial %s, pinned)", until, serial), false)
		return nil
	}
	epoch, revoked, err := a.Index.Replace(ctx, name, p, replace, a.Now())
	if err != nil {
		return err
	}
	gone := "none pinned"
	if len(revoked) > 0 {
		gone = strings.Join(revoked, ", ")
	}
	a.Event(ctx, "replace", by, name, fmt.Sprintf("re-enrolled for a replacement box (epoch %d): %s; certificate issued until %s (serial %s, pinned); serials revoked for good: %s",
		epoch, replace, until, serial, gone), true)
	a.Event(ctx, "audit_key_reset", by, name, fmt.Sprintf("the audit key pinned for %s and its anchored head were reset by its replacement (epoch %d): the key of the next audit chain it uploads is pinned; the old box's stored chain is kept as %s~%d",
		name, epoch, name, epoch-1), true)
	return nil
}
