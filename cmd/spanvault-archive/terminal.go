package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// stdinTerminal answers whether stdin is the process's own standard input
// and a terminal, and then a reader of one line from it that does not
// echo (term.ReadPassword).
func stdinTerminal() (func() ([]byte, error), bool) {
	f, ok := stdin.(*os.File)
	if !ok || f != os.Stdin || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return func() ([]byte, error) { return term.ReadPassword(int(f.Fd())) }, true
}

// readTerminal asks for a password and a second-factor code on prompt
// (stderr) and reads each with read, which does not echo what is typed.
func readTerminal(prompt io.Writer, read func() ([]byte, error)) (password, code string, err error) {
	fmt.Fprint(prompt, "password: ")
	pw, err := read()
	fmt.Fprintln(prompt)
	if err != nil {
		return "", "", fmt.Errorf("credentials: reading the password: %w", err)
	}
	fmt.Fprint(prompt, "second-factor code: ")
	c, err := read()
	fmt.Fprintln(prompt)
	if err != nil {
		return "", "", fmt.Errorf("credentials: reading the code: %w", err)
	}
	password, code = strings.TrimRight(string(pw), "\r"), strings.TrimSpace(string(c))
	if len(pw) > maxCredentials || len(c) > maxCredentials || password == "" || code == "" {
		return "", "", errors.New("credentials: give your password and a current code of your second factor")
	}
	return password, code, nil
}
