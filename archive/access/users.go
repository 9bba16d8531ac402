package access

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/argon2"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/keyring"
)

// User is an account of the access service.
type User struct {
	Name     string   `json:"name"`
	Role     Role     `json:"role"`
	Branches []string `json:"branches"` // nil: every branch
	// MustChange: the one-time password from "user add" (or a reset) is
	// still in use: it signs in to nothing but setting a new password.
	MustChange  bool      `json:"must_change"`
	Suspended   string    `json:"suspended,omitempty"` // why playback is suspended
	LockedUntil time.Time `json:"locked_until,omitzero"`
	// Disabled says why and since when an administrator disabled the
	// account ("" while enabled): no session, no sign-in.
	Disabled string `json:"disabled,omitempty"`
	// Failures counts failed sign-ins since the last successful one;
	// from maxFailures on, only sources the user signed in from before
	// are accepted until an administrator unlocks the account.
	Failures int `json:"failures"`

	password string
	totp     string // clear base32 (older indexes) or sealedPrefix...
	totpStep int64
}

// Locked reports whether the user failed to sign in often enough that
// only sources they signed in from before are accepted until they sign
// in or an administrator unlocks them.
func (u *User) Locked() bool { return u.Failures >= maxFailures }

// AllBranches reports whether the user's scope is every branch.
func (u *User) AllBranches() bool { return u.Branches == nil }

// InScope reports whether the user's branches include branch.
func (u *User) InScope(branch string) bool {
	return u.Branches == nil || slices.Contains(u.Branches, branch)
}

var userRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Password hashing: argon2id with OWASP's minimum (19 MiB, 2 passes).
const (
	pwTime    = 2
	pwMemory  = 19 << 10
	pwThreads = 1
)

func hashPassword(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	h := argon2.IDKey([]byte(pw), salt, pwTime, pwMemory, pwThreads, 32)
	b := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", pwMemory, pwTime, pwThreads, b.EncodeToString(salt), b.EncodeToString(h))
}

func checkPassword(enc, pw string) bool {
	parts := strings.Split(enc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<22 || t == 0 || t > 16 || p == 0 {
		return false
	}
	b := base64.RawStdEncoding
	salt, err1 := b.DecodeString(parts[4])
	want, err2 := b.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func newSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewUser is what AddUser (and a reset) prints once.
type NewUser struct {
	Password string `json:"password"` // one-time: it only sets a new password
	TOTPURL  string `json:"totp_url"` // otpauth:// URL of the second factor
}

// AddUser creates a user with a one-time password and a TOTP secret.
// Roles that may hear nothing still get a second factor: every role signs
// in with it. Supervisor, compliance and crm users must be scoped to
// branches; the others see every branch unless branches are given. With
// keys, the TOTP secret is stored sealed at once; without, the access
// service seals it when it next runs (SealSecrets).
func AddUser(ctx context.Context, db *index.DB, now time.Time, name string, role Role, branches []string, keys ...*keyring.Keyring) (*NewUser, error) {
	if !userRe.MatchString(name) {
		return nil, fmt.Errorf("access: user name %q: lower-case letters, digits, '.', '_' and '-'", name)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	if len(branches) == 0 && (role == Supervisor || role == Compliance || role == CRM) {
		return nil, fmt.Errorf("access: role %s must be scoped to branches (-branches A,B)", role)
	}
	if err := branchesExist(ctx, db, branches); err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "spanvault archive", AccountName: name, Algorithm: otp.AlgorithmSHA1, Digits: otp.DigitsSix, Period: 30})
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	pw := newSecret(15)
	secret := key.Secret()
	if len(keys) > 0 && keys[0] != nil {
		if secret, err = sealTOTP(keys[0], name, secret); err != nil {
			return nil, fmt.Errorf("access: %w", err)
		}
	}
	scope := "*"
	if len(branches) > 0 {
		scope = strings.Join(branches, ",")
	}
	_, err = db.ExecContext(ctx, `INSERT INTO users (name, role, branches, password, totp, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		name, string(role), scope, hashPassword(pw), secret, now.UTC().Format(time.RFC3339Nano))
	if err != nil {
		if u, _ := getUser(ctx, db, name); u != nil {
			return nil, fmt.Errorf("access: user %s exists", name)
		}
		return nil, fmt.Errorf("access: %w", err)
	}
	return &NewUser{Password: pw, TOTPURL: key.URL()}, nil
}

// ErrNoUser: no such user.
var ErrNoUser = errors.New("access: no such user")

func getUser(ctx context.Context, db *index.DB, name string) (*User, error) {
	u := &User{Name: name}
	var role, scope, set, locked string
	err := db.QueryRowContext(ctx, `SELECT role, branches, password, totp, totp_step, password_set_at, suspended, failed, locked_until, disabled FROM users WHERE name = ?`, name).
		Scan(&role, &scope, &u.password, &u.totp, &u.totpStep, &set, &u.Suspended, &u.Failures, &locked, &u.Disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoUser
	}
	if err != nil {
		return nil, err
	}
	u.Role, u.MustChange = Role(role), set == ""
	if scope != "*" {
		u.Branches = strings.Split(scope, ",")
	}
	u.LockedUntil, _ = time.Parse(time.RFC3339Nano, locked)
	return u, nil
}

// ListUsers lists every user.
func ListUsers(ctx context.Context, db *index.DB) ([]*User, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	var out []*User
	for _, n := range names {
		u, err := getUser(ctx, db, n)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// totpStep returns the 30-second step code matches around now, or -1.
func totpMatch(secret, code string, now time.Time) int64 {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return -1
	}
	for _, d := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(d) * 30 * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return t.Unix() / 30
		}
	}
	return -1
}

// SetPassword replaces a user's password (the one-time one included) and
// ends every session of the user. It checks no current password: users
// change theirs through changePassword (POST /api/v1/password, the web's
// /password), which does.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if err := checkNewPassword(password); err != nil {
		return err
	}
	h, err := s.hashNew(ctx, password)
	if err != nil {
		return err
	}
	_, err = s.db().ExecContext(ctx, `UPDATE users SET password = ?, password_set_at = ?, failed = 0 WHERE name = ?`, h, s.now().UTC().Format(time.RFC3339Nano), name)
	if err != nil {
		return err
	}
	if _, err := s.db().ExecContext(ctx, `DELETE FROM sessions WHERE name = ?`, name); err != nil {
		return fmt.Errorf("access: ending %s's sessions: %w", name, err)
	}
	s.audit(ctx, "password_changed", name, "", "every session ended", false)
	return nil
}

func (s *Service) setRole(ctx context.Context, name string, role Role, branches []string) error {
	scope := "*"
	if len(branches) > 0 {
		scope = strings.Join(branches, ",")
	}
	// Never below minAdmins enabled admins, even against a decision
	// made at the same moment (bootstrap_guard.go).
	n, err := adminGuarded(ctx, s.db(), `UPDATE users SET role = ?, branches = ? WHERE name = ?
AND (role <> ? OR ? = ? OR (SELECT COUNT(*) FROM users o WHERE o.role = ? AND o.disabled = '' AND o.name <> ?) >= ?)`,
		string(role), scope, name, string(Admin), string(role), string(Admin), string(Admin), name, minAdmins)
	if err != nil {
		return err
	}
	if n == 0 {
		if err := s.keepsAdmins(ctx, name, role); err != nil {
			return err
		}
		return ErrNoUser
	}
	if _, err := s.db().ExecContext(ctx, `DELETE FROM sessions WHERE name = ?`, name); err != nil { // new rights, new sign-in
		return fmt.Errorf("access: ending %s's sessions: %w", name, err)
	}
	return nil
}

func (s *Service) unsuspend(ctx context.Context, name string) error {
	_, err := s.db().ExecContext(ctx, `UPDATE users SET suspended = '' WHERE name = ?`, name)
	return err
}
