package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spanvault/spanvault/internal/keyfile"
	"github.com/spanvault/spanvault/sync/wire"
)

// EnrollConfig is what a box built for an archive knows before it is
// enrolled: the archive's addresses and its CA certificate's SHA-256.
type EnrollConfig struct {
	Archives []string
	// CAFingerprint is the hex SHA-256 of the archive CA's certificate
	// (DER); "sha256:" before it is allowed. The TLS connection is
	// trusted only when the archive presents that CA and a server
	// certificate it issued for the address.
	CAFingerprint string
	// Dir keeps the keys made at first boot and, once approved, the
	// certificates and the sync section (EnrolledFile). 0700.
	Dir string
	// Hosts are IP addresses for the API certificate.
	Hosts []string
	// LocalAddr, when set, is the address requests are sent from (a box
	// with several interfaces; the fleet simulation gives each branch a
	// network of its own).
	LocalAddr net.Addr
}

// Files in EnrollConfig.Dir.
const (
	EnrolledFile  = "enrolled.toml" // the [sync] section, written last
	PolicyKeyFile = "policy.pub"    // the archive's policy signing key
	UpdateKeyFile = "update.pub"    // the archive's update signing key (when it sends one)
)

// EnrollState is the state of a box's enrollment, for its status page.
type EnrollState struct {
	// State: asking (no archive has answered yet: its code is shown, but
	// no archive holds the request), pending (an archive holds it, an
	// admin may approve it), approved, expired, error.
	State     string    `json:"state"`
	Code      string    `json:"code,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Name      string    `json:"name,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// ErrEnrollExpired: the archive let the request expire; the keys were
// removed, and the next attempt makes new ones (a new code).
var ErrEnrollExpired = errors.New("sync: enrollment request expired")

// EnrollCodeOf returns the enrollment code of the key in dir, making the
// box's keys first if there are none.
func EnrollCodeOf(dir string) (string, error) {
	k, err := enrollKeys(dir)
	if err != nil {
		return "", err
	}
	return wire.EnrollCode(k.sync.Public())
}

type keys struct {
	sync, api crypto.Signer
}

// enrollKeys loads or makes the sync and API keys in dir (0600).
func enrollKeys(dir string) (*keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sync: enroll: %w", err)
	}
	var out keys
	for _, f := range []string{"sync.key", "api.key"} {
		p := filepath.Join(dir, f)
		k, err := keyfile.ReadKey(p)
		if errors.Is(err, os.ErrNotExist) {
			nk, err := keyfile.NewKey()
			if err != nil {
				return nil, err
			}
			if err := keyfile.WriteKey(p+".new", nk); err != nil {
				return nil, fmt.Errorf("sync: enroll: %w", err)
			}
			if err := os.Rename(p+".new", p); err != nil {
				return nil, fmt.Errorf("sync: enroll: %w", err)
			}
			k = nk
		} else if err != nil {
			return nil, fmt.Errorf("sync: enroll: %s: %w", p, err)
		}
		if f == "sync.key" {
			out.sync = k
		} else {
			out.api = k
		}
	}
	return &out, nil
}

// EnrollOnce asks the archives (in order) once. It returns the state:
// pending with the code to approve, or approved with the files written
// (the certificates, the CA, the anchor and policy keys, then
// EnrolledFile, whose [sync] section the box then runs with). An expired
// request removes the keys (ErrEnrollExpired): the next call starts over
// with a new code.
func EnrollOnce(ctx context.Context, cfg EnrollConfig) (EnrollState, error) {
	want, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(cfg.CAFingerprint)), "sha256:"))
	if err != nil || len(want) != sha256.Size {
		return EnrollState{State: "error"}, errors.New("sync: enroll: ca_fingerprint is not a hex SHA-256")
	}
	k, err := enrollKeys(cfg.Dir)
	if err != nil {
		return EnrollState{State: "error"}, err
	}
	code, err := wire.EnrollCode(k.sync.Public())
	if err != nil {
		return EnrollState{State: "error"}, err
	}
	st := EnrollState{State: "asking", Code: code}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "spanvault enrollment " + code}}, k.sync)
	if err != nil {
		return st, err
	}
	apiCSR, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "spanvault api " + code}}, k.api)
	if err != nil {
		return st, err
	}
	body, err := json.Marshal(wire.EnrollRequest{CSR: csr, APICSR: apiCSR, Hosts: cfg.Hosts})
	if err != nil {
		return st, err
	}
	var errs []error
	for _, addr := range cfg.Archives {
		rep, status, err := enrollPost(ctx, addr, cfg.LocalAddr, want, body)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			if status == 0 || status >= 500 || status == http.StatusTooManyRequests {
				continue // the next archive
			}
			if status == http.StatusGone {
				os.Remove(filepath.Join(cfg.Dir, "sync.key"))
				os.Remove(filepath.Join(cfg.Dir, "api.key"))
				st.State = "expired"
				return st, fmt.Errorf("%w: %v", ErrEnrollExpired, err)
			}
			st.State, st.Error = "error", err.Error()
			return st, err
		}
		if rep.Code != code {
			return st, fmt.Errorf("sync: enroll: %s answered for code %s, not %s", addr, rep.Code, code)
		}
		st.ExpiresAt = rep.ExpiresAt
		if rep.State != wire.EnrollApproved {
			st.State = "pending" // the archive holds the request
			return st, nil
		}
		if err := writeEnrolled(cfg, k, rep, want); err != nil {
			st.State, st.Error = "error", err.Error()
			return st, err
		}
		st.State, st.Name = "approved", rep.Name
		return st, nil
	}
	err = fmt.Errorf("sync: enroll: no archive answered: %w", errors.Join(errs...))
	st.Error = err.Error()
	return st, err
}

// enrollPost sends the request to one archive over TLS pinned to the CA
// fingerprint.
func enrollPost(ctx context.Context, addr string, local net.Addr, fingerprint []byte, body []byte) (*wire.EnrollReply, int, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, err
	}
	tc := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: wire.KeyExchanges(),
		// Verified below against the pinned CA (no CA file yet).
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, fingerprint, host)
		},
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
		DialContext: (&net.Dialer{Timeout: 10 * time.Second, LocalAddr: local}).DialContext, TLSHandshakeTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+wire.PathEnroll, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		var er wire.ErrorReply
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&er) // falls back to the header
		if er.Error == "" {
			er.Error = resp.Header.Get(wire.HeaderError)
		}
		return nil, resp.StatusCode, &RemoteError{Status: resp.StatusCode, Msg: er.Error}
	}
	var rep wire.EnrollReply
	if err := wire.Decode(resp.Body, &rep); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("sync: enroll: %w", err)
	}
	return &rep, resp.StatusCode, nil
}

// verifyPinned accepts a chain that holds the CA with the pinned
// fingerprint and a leaf that CA issued for host.
func verifyPinned(chain []*x509.Certificate, fingerprint []byte, host string) error {
	if len(chain) == 0 {
		return errors.New("sync: enroll: the archive presented no certificate")
	}
	var root *x509.Certificate
	for _, c := range chain[1:] {
		sum := sha256.Sum256(c.Raw)
		if bytes.Equal(sum[:], fingerprint) && c.IsCA {
			root = c
		}
	}
	if root == nil {
		return errors.New("sync: enroll: the archive did not present the CA this box was built for (ca_fingerprint)")
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("sync: enroll: server certificate: %w", err)
	}
	return nil
}

// writeEnrolled writes what an approval brought, EnrolledFile last.
func writeEnrolled(cfg EnrollConfig, k *keys, rep *wire.EnrollReply, fingerprint []byte) error {
	if !wire.ValidName(rep.Name) {
		return fmt.Errorf("sync: enroll: the archive named the box %q", rep.Name)
	}
	caCert, err := x509.ParseCertificate(rep.CA)
	if err != nil {
		return fmt.Errorf("sync: enroll: ca: %w", err)
	}
	if sum := sha256.Sum256(rep.CA); !bytes.Equal(sum[:], fingerprint) {
		return errors.New("sync: enroll: the archive sent another CA than the pinned one")
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	for _, c := range []struct {
		der  []byte
		key  any
		kind x509.ExtKeyUsage
	}{{rep.Cert, k.sync.Public(), x509.ExtKeyUsageClientAuth}, {rep.APICert, k.api.Public(), x509.ExtKeyUsageServerAuth}} {
		cert, err := x509.ParseCertificate(c.der)
		if err != nil {
			return fmt.Errorf("sync: enroll: certificate: %w", err)
		}
		if len(cert.DNSNames) == 0 || cert.DNSNames[0] != rep.Name {
			return fmt.Errorf("sync: enroll: a certificate for %v, not %s", cert.DNSNames, rep.Name)
		}
		if pk, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(c.key) {
			return errors.New("sync: enroll: a certificate for another key than this box's")
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{c.kind}}); err != nil {
			return fmt.Errorf("sync: enroll: certificate: %w", err)
		}
	}
	if len(rep.Sync.Archives) == 0 {
		return errors.New("sync: enroll: the archive gave no addresses")
	}
	if rep.UpdateKey != "" {
		if _, err := wire.ParseUpdateKey(rep.UpdateKey); err != nil {
			return fmt.Errorf("sync: enroll: %w", err)
		}
		if err := os.WriteFile(filepath.Join(cfg.Dir, UpdateKeyFile), []byte(rep.UpdateKey+"\n"), 0o644); err != nil {
			return fmt.Errorf("sync: enroll: %w", err)
		}
	}
	for _, w := range []struct {
		name string
		do   func(string) error
	}{
		{"sync.crt", func(p string) error { return keyfile.WriteCert(p, rep.Cert) }},
		{"api.crt", func(p string) error { return keyfile.WriteCert(p, rep.APICert) }},
		{"ca.crt", func(p string) error { return keyfile.WriteCert(p, rep.CA) }},
		{"anchor.vkey", func(p string) error { return os.WriteFile(p, []byte(rep.AnchorKey+"\n"), 0o644) }},
		{PolicyKeyFile, func(p string) error { return os.WriteFile(p, []byte(rep.PolicyKey+"\n"), 0o644) }},
	} {
		if err := w.do(filepath.Join(cfg.Dir, w.name)); err != nil {
			return fmt.Errorf("sync: enroll: %w", err)
		}
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by the box at its enrollment (code %s) as %q.\n[sync]\nname = %q\narchives = [", rep.Code, rep.Name, rep.Name)
	for i, ad := range rep.Sync.Archives {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", ad)
	}
	fmt.Fprintf(&b, "]\ncert = %q\nkey = %q\nca = %q\nanchor_key = %q\napi_cert = %q\napi_key = %q\npolicy_key = %q\n",
		filepath.Join(abs, "sync.crt"), filepath.Join(abs, "sync.key"), filepath.Join(abs, "ca.crt"),
		filepath.Join(abs, "anchor.vkey"), filepath.Join(abs, "api.crt"), filepath.Join(abs, "api.key"), filepath.Join(abs, PolicyKeyFile))
	if rep.UpdateKey != "" {
		fmt.Fprintf(&b, "update_key = %q\n", filepath.Join(abs, UpdateKeyFile))
	}
	if rep.Sync.Window != "" {
		fmt.Fprintf(&b, "window = %q\n", rep.Sync.Window)
	}
	fmt.Fprintf(&b, "rate = \"%d\"\n", rep.Sync.Rate)
	if rep.Sync.CheckInEvery > 0 {
		fmt.Fprintf(&b, "check_in_every = \"%ds\"\n", rep.Sync.CheckInEvery)
	}
	p := filepath.Join(cfg.Dir, EnrolledFile)
	if err := os.WriteFile(p+".new", []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(p+".new", p)
}
