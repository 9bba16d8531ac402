package main

import (
	"bufio"
	"context"
	"errors"
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
// without one, from stdin.
func readCredentials(path string) (password, code string, err error) {
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
	by, credentials, identity *string
}

func addOperatorFlags(fs interface {
	String(name, value, usage string) *string
}, what string) operatorFlags {
	return operatorFlags{
		by:          fs.String("by", "", "your name in the access service: "+what+" (your password and a current second-factor code are read from stdin, or -credentials-file)"),
		credentials: fs.String("credentials-file", "", "a file (mode 0600) with your password and a current second-factor code, one a line, instead of stdin"),
		identity:    fs.String("identity", "", "the archive's age identity file, to open sealed second factors; default: $"+keyring.EnvVar),
	}
}

// authenticate checks that the person -by names is at the keyboard, like
// the web sign-in, and may do act over every branch.
func (o operatorFlags) authenticate(ctx context.Context, a *archive.Archive, act access.Action) (*access.User, error) {
	if *o.by == "" {
		return nil, errors.New("-by: name yourself (an account of the access service); your credentials are checked")
	}
	pw, code, err := readCredentials(*o.credentials)
	if err != nil {
		return nil, err
	}
	var keys *keyring.Keyring
	if *o.identity != "" || os.Getenv(keyring.EnvVar) != "" {
		if keys, err = keyring.Load(*o.identity); err != nil {
			return nil, err
		}
	}
	u, err := access.New(a, keys).AuthenticateOperator(ctx, *o.by, pw, code, act)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", *o.by, err)
	}
	if !u.AllBranches() {
		return nil, fmt.Errorf("%s: an admin scoped to branches may not %s", u.Name, act)
	}
	return u, nil
}
