package main

import (
	"errors"
	"strings"
	"testing"
)

// At a terminal the password and the code are each read by a reader
// that does not echo (term.ReadPassword), after a prompt on stderr; a
// piped stdin (not a terminal) is read as lines, as before.
func TestReadTerminalCredentials(t *testing.T) {
	lines := [][]byte{[]byte("s3cret pass"), []byte(" 123456 ")}
	var prompt strings.Builder
	pw, code, err := readTerminal(&prompt, func() ([]byte, error) {
		l := lines[0]
		lines = lines[1:]
		return l, nil
	})
	if err != nil || pw != "s3cret pass" || code != "123456" {
		t.Fatalf("read %q %q %v", pw, code, err)
	}
	if p := prompt.String(); !strings.Contains(p, "password: ") || !strings.Contains(p, "second-factor code: ") || strings.Contains(p, "s3cret") {
		t.Fatalf("prompt %q", p)
	}
	if _, _, err := readTerminal(&prompt, func() ([]byte, error) { return nil, nil }); err == nil {
		t.Fatal("an empty password accepted")
	}
	if _, _, err := readTerminal(&prompt, func() ([]byte, error) { return nil, errors.New("eof") }); err == nil {
		t.Fatal("a failed read accepted")
	}
	old := stdin
	defer func() { stdin = old }()
	stdin = strings.NewReader("pw\n654321\n")
	if pw, code, err := readCredentials(""); err != nil || pw != "pw" || code != "654321" {
		t.Fatalf("piped: %q %q %v", pw, code, err)
	}
}
