package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
)

// floodTo, when set (-flood-to), is the number the flood is aimed at: the
// box is told it is one of its extensions (capture.extensions = the
// number's first digit and 'x's), and unanswered dialogs end after 5 s so
// that their records are written while the level runs. A SIP scanner
// enumerating extensions, or a flood at one desk (issue 21).
var floodTo string

// extensionConfig adds the extension and the dialog timeout to the
// daemon's configuration when the flood is aimed at an extension.
func extensionConfig(cfg string) string {
	if floodTo == "" {
		return cfg
	}
	pattern := floodTo[:1] + strings.Repeat("x", len(floodTo)-1)
	return strings.Replace(cfg, "[capture]\n", fmt.Sprintf("[capture]\nextensions = [%q]\ndialog_timeout = \"5s\"\n", pattern), 1)
}

// indexBytes is the size of the vault's index on disk (its blocks).
func indexBytes(vault string) int64 {
	var st syscall.Stat_t
	if syscall.Stat(filepath.Join(vault, "vault.db"), &st) != nil {
		return 0
	}
	return st.Blocks * 512
}

// printIndexGrowth prints what the index grew by per flood INVITE, over
// the whole run (the daemon stopped: every dialog ended and written).
func printIndexGrowth(growth int64, sent int) {
	if sent == 0 {
		return
	}
	fmt.Printf("index growth per flood INVITE (vault.db on disk, %d INVITEs, the daemon stopped): %.1f bytes\n", sent, float64(growth)/float64(sent))
}
