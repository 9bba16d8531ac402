// Package deptest checks what a binary links, the idea of tailscale's
// tstest/deptest: the box must not carry the archive's database drivers
// and storage clients, the archive must not carry the box's capture and
// storage engine. A test per binary lists what is forbidden; the check
// runs `go list -deps` for the binary's target platform, so a forbidden
// import added anywhere below main fails that test, naming the chain
// that brought it in.
package deptest

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Check fails t for every package pkg links (for goos/goarch) whose
// import path is one of forbidden or below one of them (prefix/...).
// An entry "!path" is an exception: path and the packages below it may be
// linked although a forbidden prefix covers them (a pure leaf inside a
// forbidden tree).
func Check(t *testing.T, pkg, goos, goarch string, forbidden []string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports", pkg)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	type listed struct {
		ImportPath string
		Imports    []string
	}
	importers := map[string]string{} // package -> one package that imports it
	var all []string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		all = append(all, p.ImportPath)
		for _, imp := range p.Imports {
			if _, ok := importers[imp]; !ok {
				importers[imp] = p.ImportPath
			}
		}
	}
	if len(all) == 0 {
		t.Fatalf("go list -deps %s listed nothing", pkg)
	}
	under := func(p, f string) bool { return p == f || strings.HasPrefix(p, f+"/") }
	var banned, allowed []string
	for _, f := range forbidden {
		if a, ok := strings.CutPrefix(f, "!"); ok {
			allowed = append(allowed, a)
		} else {
			banned = append(banned, f)
		}
	}
packages:
	for _, p := range all {
		for _, a := range allowed {
			if under(p, a) {
				continue packages
			}
		}
		for _, f := range banned {
			if under(p, f) {
				t.Errorf("%s links %s (forbidden: %s), through %s", pkg, p, f, chain(importers, p))
				break
			}
		}
	}
}

// chain is the import path from the binary down to p.
func chain(importers map[string]string, p string) string {
	path := []string{p}
	seen := map[string]bool{p: true}
	for {
		up, ok := importers[p]
		if !ok || seen[up] {
			break
		}
		path = append(path, up)
		seen[up] = true
		p = up
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return strings.Join(path, " -> ")
}
