package access

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/keyring"
	"github.com/spanvault/spanvault/internal/httperr"
)

// Accounts: a TOTP secret is stored sealed under a key the keyring
// derives (purpose "totp", bound to the user's name), so a copied index
// and a password do not sign in. Indexes written before sealing hold the
// clear base32 secret: the service seals every clear one when it starts,
// every few seconds while it runs (users added without the identity) and
// at its first use, and then overwrites the old bytes (SQLite's
// secure_delete and a WAL checkpoint).

// sealedPrefix marks a sealed TOTP secret in users.totp.
const sealedPrefix = "sealed1:"

func sealTOTP(k *keyring.Keyring, name, secret string) (string, error) {
	b, err := k.Seal("totp", []byte(secret), []byte(name))
	if err != nil {
		return "", err
	}
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(b), nil
}

// totpSecret opens the user's TOTP secret, sealing a clear one on the way.
func (s *Service) totpSecret(ctx context.Context, u *User) (string, error) {
	sealed, ok := strings.CutPrefix(u.totp, sealedPrefix)
	if !ok {
		if s.Keys != nil {
			if _, err := SealSecrets(ctx, s.db(), s.Keys); err != nil {
				s.A.Logger.Error("sealing TOTP secrets", "err", err)
			}
		}
		return u.totp, nil
	}
	if s.Keys == nil {
		return "", fmt.Errorf("%w: the second factor is sealed", errNoKeys)
	}
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("access: sealed second factor of %s: %w", u.Name, err)
	}
	p, err := s.Keys.Unseal("totp", b, []byte(u.Name))
	if err != nil {
		return "", fmt.Errorf("access: %s: %w", u.Name, err)
	}
	return string(p), nil
}

// SealSecrets seals every TOTP secret still in clear and, on SQLite,
// overwrites the clear bytes (secure_delete, then a WAL checkpoint). It
// returns how many it sealed.
func SealSecrets(ctx context.Context, db *index.DB, keys *keyring.Keyring) (int, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, totp FROM users WHERE totp NOT LIKE 'sealed1:%'`)
	if err != nil {
		return 0, err
	}
	type clear struct{ name, secret string }
	var todo []clear
	for rows.Next() {
		var c clear
		if err := rows.Scan(&c.name, &c.secret); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, c)
	}
	rows.Close()
	if len(todo) == 0 {
		return 0, rows.Err()
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if !db.Postgres() {
		if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, c := range todo {
		sealed, err := sealTOTP(keys, c.name, c.secret)
		if err != nil {
			return n, err
		}
		q := `UPDATE users SET totp = ? WHERE name = ? AND totp = ?`
		if db.Postgres() {
			q = `UPDATE users SET totp = $1 WHERE name = $2 AND totp = $3`
		}
		res, err := conn.ExecContext(ctx, q, sealed, c.name, c.secret)
		if err != nil {
			return n, err
		}
		if k, _ := res.RowsAffected(); k == 1 {
			n++
		}
	}
	if !db.Postgres() {
		if _, err := conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return n, fmt.Errorf("access: checkpoint after sealing: %w", err)
		}
	}
	return n, nil
}

var errBadPassword = errors.New("a new password needs 12 to 1024 characters")

func checkNewPassword(pw string) error {
	if len(pw) < 12 || len(pw) > maxSecretLen {
		return errBadPassword
	}
	return nil
}

// changePassword sets a user's new password after checking the current
// one and a TOTP code (the one-time password is accepted here, and only
// here), and ends every session of the user; the caller opens a new one.
func (s *Service) changePassword(r *http.Request, name, current, code, newPassword string) (*User, error) {
	ctx := r.Context()
	if err := checkNewPassword(newPassword); err != nil {
		return nil, err
	}
	u, err := s.signInRequest(r, name, current, code, forPassword)
	if err != nil {
		return nil, err
	}
	if newPassword == current {
		return nil, fmt.Errorf("%w, different from the current one", errBadPassword)
	}
	h, err := s.hashNew(ctx, newPassword)
	if err != nil {
		return nil, err
	}
	if _, err := s.db().ExecContext(ctx, `UPDATE users SET password = ?, password_set_at = ?, failed = 0 WHERE name = ?`, h, ts(s.now()), name); err != nil {
		return nil, err
	}
	if _, err := s.db().ExecContext(ctx, `DELETE FROM sessions WHERE name = ?`, name); err != nil {
		return nil, fmt.Errorf("access: ending %s's sessions: %w", name, err)
	}
	s.audit(ctx, "password_changed", name, "", "current password and code checked; every session ended; from "+sourceOf(r), false)
	u.MustChange = false
	return u, nil
}

// ChangePassword is POST /api/v1/password's body: the current (or
// one-time) password, a code, and the new password.
type ChangePassword struct {
	Name        string `json:"name"`
	Password    string `json:"password"`
	TOTP        string `json:"totp"`
	NewPassword string `json:"new_password"`
}

func (s *Service) apiChangePassword(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInBody)
	var in ChangePassword
	if err := decodeBody(r, &in); err != nil {
		s.refuseUnauth(r.Context(), "signin_refused", sourceOf(r), "malformed", "")
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	u, err := s.changePassword(r, in.Name, in.Password, in.TOTP, in.NewPassword)
	if err != nil {
		s.writeError(w, r, nil, signInError(w, err))
		return
	}
	s.openSession(w, r, u, "new password, from "+remoteIP(r), false)
}

// mayWhileMustChange: what a session opened with the one-time password
// may reach (setting a new password, signing out).
func mayWhileMustChange(r *http.Request) bool {
	switch r.URL.Path {
	case "/password", "/signout", "/api/v1/password", "/api/v1/session":
		return true
	}
	return false
}

// DisableUser disables an account and ends its sessions at once; never
// an admin whose disabling leaves fewer than two enabled admin accounts
// (bootstrap_guard.go).
func DisableUser(ctx context.Context, db *index.DB, now time.Time, name, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return httperr.BadRequest("access: disabling a user needs a reason")
	}
	d := fmt.Sprintf("%s (since %s)", strings.TrimSpace(reason), now.UTC().Format(time.RFC3339))
	if err := disableKeepingAdmins(ctx, db, name, d); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, `DELETE FROM sessions WHERE name = ?`, name)
	return err
}

// EnableUser enables a disabled account.
func EnableUser(ctx context.Context, db *index.DB, name string) error {
	return updateUser(ctx, db, `UPDATE users SET disabled = '' WHERE name = ?`, name)
}

// UnlockUser forgets an account's failed sign-ins: every source may sign
// in again.
func UnlockUser(ctx context.Context, db *index.DB, name string) error {
	return updateUser(ctx, db, `UPDATE users SET failed = 0, locked_until = '' WHERE name = ?`, name)
}

// ResetUser gives an account a new one-time password and a new TOTP
// secret (sealed with keys, when given), and ends its sessions.
func ResetUser(ctx context.Context, db *index.DB, name string, keys *keyring.Keyring) (*NewUser, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "spanvault archive", AccountName: name, Algorithm: otp.AlgorithmSHA1, Digits: otp.DigitsSix, Period: 30})
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	secret := key.Secret()
	if keys != nil {
		if secret, err = sealTOTP(keys, name, secret); err != nil {
			return nil, fmt.Errorf("access: %w", err)
		}
	}
	pw := newSecret(15)
	if err := updateUser(ctx, db, `UPDATE users SET password = ?, password_set_at = '', totp = ?, totp_step = 0, failed = 0, locked_until = '' WHERE name = ?`, hashPassword(pw), secret, name); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM sessions WHERE name = ?`, name); err != nil {
		return nil, err
	}
	return &NewUser{Password: pw, TOTPURL: key.URL()}, nil
}

func updateUser(ctx context.Context, db *index.DB, q string, args ...any) error {
	res, err := db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("access: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoUser
	}
	return nil
}

// Account operations an administrator runs (POST /api/v1/users/{name}/op).
const (
	OpDisable = "disable"
	OpEnable  = "enable"
	OpUnlock  = "unlock"
	OpReset   = "reset" // four eyes: files a request another admin approves
)

// OpEvent is the audit kind of an account operation (user_disabled...).
func OpEvent(op string) string {
	if op == OpReset {
		return "user_reset"
	}
	return "user_" + strings.TrimSuffix(op, "e") + "ed"
}

// ReqReset resets a user's password and second factor; the approver
// receives the new one-time password and TOTP URL, once, in the reply.
const ReqReset = "reset"

func init() {
	approvers[ReqReset] = []Role{Admin}
	requesters[ReqReset] = ActUsers
}

// adminCovers reports whether admin's scope includes every branch of target.
func adminCovers(admin, target *User) bool {
	if admin.AllBranches() {
		return true
	}
	if target.AllBranches() {
		return false
	}
	for _, b := range target.Branches {
		if !slices.Contains(admin.Branches, b) {
			return false
		}
	}
	return true
}

// account runs op on the account name for admin u. Disable, enable and
// unlock take effect at once; reset files a four-eyes request.
func (s *Service) account(ctx context.Context, u *User, name, op, reason string) (*Request, error) {
	// A user in another branch is answered like one that does not exist.
	o, t := s.userObject(ctx, name)
	if err := s.authorize(ctx, u, ActUsers, o); err != nil {
		return nil, err
	}
	var err error
	switch op {
	case OpDisable:
		if name == u.Name {
			return nil, fmt.Errorf("%w: nobody disables their own account", errDenied)
		}
		err = DisableUser(ctx, s.db(), s.now(), name, reason)
	case OpEnable:
		err = EnableUser(ctx, s.db(), name)
	case OpUnlock:
		if err = UnlockUser(ctx, s.db(), name); err == nil {
			s.guard.forget(name)
		}
	case OpReset:
		return s.requestReset(ctx, u, t, reason)
	default:
		return nil, httperr.BadRequestf("unknown account operation %q (disable, enable, unlock, reset)", op)
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, OpEvent(op), u.Name, "", fmt.Sprintf("user %s: %s", name, reason), op == OpDisable)
	return nil, nil
}

func (s *Service) requestReset(ctx context.Context, u, t *User, reason string) (*Request, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, httperr.BadRequest("a request needs a reason")
	}
	tg := Target{User: t.Name, Role: t.Role, Branches: t.Branches}
	tj, _ := json.Marshal(tg)
	req := &Request{Kind: ReqReset, Target: tg, Reason: reason, RequestedBy: u.Name, RequestedAt: s.now().UTC(), State: StatePending}
	err := s.db().QueryRowContext(ctx, `INSERT INTO requests (action, target, reason, requested_by, requested_at, state) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		req.Kind, string(tj), req.Reason, req.RequestedBy, ts(req.RequestedAt), req.State).Scan(&req.ID)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "request_filed", u.Name, "", fmt.Sprintf("request %d reset of user %s's password and second factor", req.ID, t.Name), false)
	return req, nil
}

// carryOutReset runs an approved reset: the old password and second
// factor stop working (replaced by random ones shown to nobody), and the
// approver receives a setup link for the user (setup.go).
func (s *Service) carryOutReset(ctx context.Context, r *Request) error {
	if r.Target.User == r.DecidedBy || r.Target.User == r.RequestedBy {
		return fmt.Errorf("%w: nobody takes part in the reset of their own account", errDenied)
	}
	approver, err := getUser(ctx, s.db(), r.DecidedBy)
	if err != nil {
		return err
	}
	t, err := getUser(ctx, s.db(), r.Target.User)
	if err != nil {
		return err
	}
	if !adminCovers(approver, t) {
		return fmt.Errorf("%w: %s has branches outside your scope", errDenied, t.Name)
	}
	if _, err := ResetUser(ctx, s.db(), t.Name, s.Keys); err != nil { // its secrets are dropped here
		return err
	}
	s.guard.forget(t.Name)
	link, err := s.issueSetup(ctx, t.Name, setupReset, r.DecidedBy)
	if err != nil {
		return err
	}
	r.SetupLink = link
	r.Result = "password and second factor reset; setup link handed to " + r.DecidedBy + " for the user"
	return nil
}

// AccountOp is POST /api/v1/users/{name}/{op}'s body.
type AccountOp struct {
	Reason string `json:"reason"`
}

func (s *Service) apiAccount(w http.ResponseWriter, r *http.Request, ss *session) {
	var in AccountOp
	if r.ContentLength != 0 {
		if err := decodeBody(r, &in); err != nil {
			jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	req, err := s.account(r.Context(), ss.user, r.PathValue("name"), r.PathValue("op"), in.Reason)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	if req != nil {
		writeJSON(w, http.StatusAccepted, req)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// webAccount is the web form's account operation (the users page).
func (s *Service) webAccount(w http.ResponseWriter, r *http.Request, ss *session) {
	if _, err := s.account(r.Context(), ss.user, r.PathValue("name"), r.PathValue("op"), r.FormValue("reason")); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// sealLoop seals clear TOTP secrets (users added without the identity).
func (s *Service) sealPending(ctx context.Context) {
	if s.Keys == nil {
		return
	}
	if _, err := SealSecrets(ctx, s.db(), s.Keys); err != nil && ctx.Err() == nil {
		s.A.Logger.Error("sealing second factors", "err", err)
	}
}
