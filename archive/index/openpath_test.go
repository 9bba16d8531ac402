package index

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenOddPath: the SQLite file is the one named, whatever its path
// holds. The path goes into an SQLite URI, where '#' starts a fragment,
// '?' the query and '%' an escape: unescaped, a directory named "c%41d"
// failed ("unable to open database file (14)"), and a test's own
// "file:"+path DSN with a '#' in it opened another file.
func TestOpenOddPath(t *testing.T) {
	for _, name := range []string{"sqlite#01", "a?b", "c%41d", "e f", "g&_txlock=deferred"} {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "index.db")
		ix, err := Open(p)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		ix.Close()
		if _, err := os.Stat(p); err != nil {
			ents, _ := os.ReadDir(filepath.Dir(dir))
			var got []string
			for _, e := range ents {
				got = append(got, e.Name())
			}
			t.Errorf("Open(%q) did not make that file (%v); beside it: %q", p, err, got)
		}
	}
}
