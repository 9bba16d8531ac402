package vault

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestRawIndexGarbage: the page-by-page reader survives any bytes: pages
// that point at themselves, at each other, past the end, elements whose
// offsets run out of their page.
func TestRawIndexGarbage(t *testing.T) {
	dir := t.TempDir()
	for seed := uint64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 2 + rng.IntN(12)
		data := make([]byte, n*4096+rng.IntN(4096))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		for id := 0; id < n; id++ {
			p := data[id*4096:]
			if rng.IntN(4) > 0 {
				binary.LittleEndian.PutUint64(p, uint64(id))
			}
			binary.LittleEndian.PutUint16(p[8:], []uint16{branchPage, leafPage, freelistPage, 4}[rng.IntN(4)])
			binary.LittleEndian.PutUint16(p[10:], uint16(rng.IntN(300)))
			binary.LittleEndian.PutUint32(p[12:], uint32(rng.IntN(3)))
			for e := 0; e < 20; e++ {
				el := p[pageHeader+e*elementSize:]
				if rng.IntN(2) == 0 {
					binary.LittleEndian.PutUint64(el[8:], uint64(rng.IntN(n+2))) // a child
				}
				binary.LittleEndian.PutUint32(el[4:], uint32(rng.IntN(4096)))
				binary.LittleEndian.PutUint32(el[8:], uint32(rng.IntN(64)))
				binary.LittleEndian.PutUint32(el[12:], uint32(rng.IntN(4096)))
			}
		}
		if rng.IntN(2) == 0 {
			binary.LittleEndian.PutUint32(data[pageHeader:], 0xED0CDAED)
			binary.LittleEndian.PutUint32(data[pageHeader+8:], 4096)
			binary.LittleEndian.PutUint64(data[pageHeader+16:], uint64(rng.IntN(n+1)))
		}
		path := filepath.Join(dir, "vault.db")
		os.WriteFile(path, data, 0o600)
		if _, err := readRawIndex(path); err != nil {
			t.Fatal(err)
		}
	}
}
