package agefile

import (
	"bytes"
	"io"
	"testing"

	"filippo.io/age"
)

// BenchmarkSealPerCall: the sealing CPU the box spends per call and per
// call record, as the vault seals them with Fast recipients: a call is
// three files (its recording through this package's writer, its personal
// metadata and its subject through age.Encrypt), a call record without a
// recording two. Each file is a short plaintext: the figure is the cost
// per file (file key, its wrapping, header and MAC, payload key), not
// the payload's encryption, which is the same whatever the recipient.
// X25519 against hybrid post-quantum (ML-KEM-768 + X25519) recipients.
func BenchmarkSealPerCall(b *testing.B) {
	x, _ := age.GenerateX25519Identity()
	h, _ := age.GenerateHybridIdentity()
	meta := bytes.Repeat([]byte("m"), 600)
	buf := make([]byte, 0, BufferSize)
	for _, k := range []struct {
		name string
		r    age.Recipient
	}{{"x25519", x.Recipient()}, {"hybrid", h.Recipient()}} {
		rs := Fast([]age.Recipient{k.r})
		for _, what := range []string{"call", "record"} {
			b.Run(k.name+"/"+what, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if what == "call" {
						w, err := NewWriter(io.Discard, buf, rs...)
						if err != nil {
							b.Fatal(err)
						}
						w.Write(meta)
						w.Close()
					}
					for range 2 {
						w, err := age.Encrypt(io.Discard, rs...)
						if err != nil {
							b.Fatal(err)
						}
						w.Write(meta)
						w.Close()
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/"+what)
			})
		}
	}
}
