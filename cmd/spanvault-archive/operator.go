package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/keyring"
)

// stdin is where credentials are read when no file is named (tests set it).
var stdin io.Reader = os.Stdin

// maxCredentials bounds what is read of a credentials file or stdin.
const maxCredentials = 4 << 10

// readCredentials reads a password and a second-factor code, one a line,
// from path (which only its owner may read: mode 0600 or tighter) or,
// without one, from stdin: asked for and not echoed when it is a
// terminal (terminal.go).
func readCredentials(path string) (password, code string, err error) {
	if read, ok := stdinTerminal(); ok && path == "" {
		return readTerminal(os.Stderr, read)
	}
	r := stdin
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return "", "", fmt.Errorf("credentials file: %w", err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return "", "", fmt.Errorf("credentials file: %w", err)
		}
		if m := fi.Mode(); !m.IsRegular() || m.Perm()&0o077 != 0 {
			return "", "", fmt.Errorf("credentials file %s: mode %v, want a file only its owner reads (0600)", path, m.Perm())
		}
		r = f
	}
	sc := bufio.NewScanner(io.LimitReader(r, maxCredentials))
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	if len(lines) < 2 || lines[0] == "" || strings.TrimSpace(lines[1]) == "" {
		return "", "", errors.New("credentials: give your password and a current code of your second factor, one a line (stdin or -credentials-file)")
	}
	return lines[0], strings.TrimSpace(lines[1]), nil
}

// operatorFlags are the flags of a command a named person runs.
type operatorFlags struct {
	by, credentials *string
	identity        *flag.Flag
}

// addOperatorFlags adds -by, -credentials-file and -identity (unless the
// command has an -identity of its own, which then serves both).
func addOperatorFlags(fs *flag.FlagSet, what string) operatorFlags {
	o := operatorFlags{
		by:          fs.String("by", "", "your name in the access service: "+what+" (your password and a current second-factor code are read from stdin, or -credentials-file)"),
		credentials: fs.String("credentials-file", "", "a file (mode 0600) with your password and a current second-factor code, one a line, instead of stdin"),
	}
	if o.identity = fs.Lookup("identity"); o.identity == nil {
		fs.String("identity", "", "the archive's age identity file, to open sealed second factors; default: $"+keyring.EnvVar)
		o.identity = fs.Lookup("identity")
	}
	return o
}

// operator checks that the person -by names is at the keyboard, like
// the web sign-in (password and a fresh second-factor code; a wrong one
// counts toward the lockout, a disabled or locked account is refused),
// and that their role allows act. Every refusal is in the trail.
func (o operatorFlags) operator(ctx context.Context, a *archive.Archive, act access.Action) (*access.User, *access.Service, error) {
	if *o.by == "" {
		return nil, nil, errors.New("-by: name yourself (an account of the access service); your credentials are checked")
	}
	pw, code, err := readCredentials(*o.credentials)
	if err != nil {
		return nil, nil, err
	}
	var keys *keyring.Keyring
	if id := o.identity.Value.String(); id != "" || os.Getenv(keyring.EnvVar) != "" {
		if keys, err = keyring.Load(id); err != nil {
			return nil, nil, err
		}
	}
	svc := access.New(a, keys)
	u, err := svc.AuthenticateOperator(ctx, *o.by, pw, code, act)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", *o.by, err)
	}
	return u, svc, nil
}

// authenticate is operator for what only a person of every branch may
// do (the fleet's administration).
func (o operatorFlags) authenticate(ctx context.Context, a *archive.Archive, act access.Action) (*access.User, error) {
	u, _, err := o.operator(ctx, a, act)
	if err != nil {
		return nil, err
	}
	if !u.AllBranches() {
		a.Event(ctx, "refused", u.Name, "", fmt.Sprintf("command line: scoped to branches %s, may not %s", strings.Join(u.Branches, ","), act), false)
		return nil, fmt.Errorf("%s: an admin scoped to branches may not %s", u.Name, act)
	}
	return u, nil
}

// inScope refuses (and audits) a person whose branches do not hold box.
func inScope(ctx context.Context, a *archive.Archive, u *access.User, box, what string) error {
	if u.InScope(box) {
		return nil
	}
	a.Event(ctx, "denied", u.Name, box, fmt.Sprintf("command line: %s: branch %s outside the scope %s", what, box, strings.Join(u.Branches, ",")), false)
	return fmt.Errorf("%s: branch %s is outside your scope", u.Name, box)
}
