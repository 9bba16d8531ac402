package agefile_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/spanvault/spanvault/vault/agefile"
)

func keys(t testing.TB, n int) ([]age.Recipient, []age.Identity) {
	var rs []age.Recipient
	var ids []age.Identity
	for range n {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, id.Recipient())
		ids = append(ids, id)
	}
	return rs, ids
}

func payload(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	r.Read(b)
	return b
}

// write encrypts p in writes of uneven sizes, as the record stream does.
func write(t testing.TB, p []byte, buf []byte, rs []age.Recipient) []byte {
	var out bytes.Buffer
	w, err := agefile.NewWriter(&out, buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; len(p) > 0; i++ {
		k := min(len(p), 1+i*37%300)
		if i%50 == 0 {
			k = min(len(p), 70000) // a write larger than a chunk
		}
		if n, err := w.Write(p[:k]); n != k || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var sizes = []int{0, 1, 100, agefile.ChunkSize - 1, agefile.ChunkSize, agefile.ChunkSize + 1,
	2 * agefile.ChunkSize, 3*agefile.ChunkSize + 12345}

// TestAgeOpens: every file decrypts with filippo.io/age to exactly what
// was written, for one and for several recipients, at every chunk-edge
// size.
func TestAgeOpens(t *testing.T) {
	t.Parallel()
	for _, nr := range []int{1, 3} {
		rs, ids := keys(t, nr)
		for _, n := range sizes {
			p := payload(n)
			file := write(t, p, nil, rs)
			for _, id := range ids {
				r, err := age.Decrypt(bytes.NewReader(file), id)
				if err != nil {
					t.Fatalf("%d recipients, %d bytes: %v", nr, n, err)
				}
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, p) {
					t.Fatalf("%d recipients, %d bytes: read %d bytes, %v", nr, n, len(got), err)
				}
			}
		}
	}
}

// TestSameSizeAsAge: the files are exactly as long as age.Encrypt's.
func TestSameSizeAsAge(t *testing.T) {
	t.Parallel()
	rs, _ := keys(t, 2)
	for _, n := range sizes {
		p := payload(n)
		var ref bytes.Buffer
		w, _ := age.Encrypt(&ref, rs...)
		w.Write(p)
		w.Close()
		if got := len(write(t, p, nil, rs)); got != ref.Len() {
			t.Errorf("%d bytes: file of %d bytes, age writes %d", n, got, ref.Len())
		}
	}
}

// TestTruncatedAtChunkBoundaries: a file cut after k whole chunks (a
// crash before the last chunk) gives back exactly those k chunks and then
// an error; nothing is read that was not written, nothing is accepted as
// complete.
func TestTruncatedAtChunkBoundaries(t *testing.T) {
	t.Parallel()
	rs, ids := keys(t, 1)
	p := payload(4*agefile.ChunkSize + 999)
	file := write(t, p, nil, rs)
	hdr := len(file) - (4*agefile.BufferSize + 999 + 16)
	for k := 0; k <= 4; k++ {
		cut := file[:hdr+k*agefile.BufferSize]
		r, err := age.Decrypt(bytes.NewReader(cut), ids[0])
		if err != nil {
			t.Fatalf("cut after %d chunks: header: %v", k, err)
		}
		got, err := io.ReadAll(r)
		if err == nil {
			t.Fatalf("cut after %d chunks: read as complete", k)
		}
		if !bytes.Equal(got, p[:k*agefile.ChunkSize]) {
			t.Fatalf("cut after %d chunks: read %d bytes, want the first %d", k, len(got), k*agefile.ChunkSize)
		}
	}
}

// TestAgeTool: the standard age command-line tool opens complete files
// and reports cut ones, streaming out the whole chunks before the cut.
func TestAgeTool(t *testing.T) {
	t.Parallel()
	tool, err := exec.LookPath("age")
	if err != nil {
		if os.Getenv("SPANVAULT_REQUIRE_TOOLS") != "" {
			t.Fatal("the age tool is not installed (scripts/install-deps.sh installs it)")
		}
		t.Skip("the age tool is not installed")
	}
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	idFile := filepath.Join(dir, "id.txt")
	os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	p := payload(3*agefile.ChunkSize + 7)
	file := write(t, p, nil, []age.Recipient{id.Recipient()})
	hdr := len(file) - (3*agefile.BufferSize + 7 + 16)
	cases := []struct {
		name string
		file []byte
		want []byte
		ok   bool
	}{
		{"complete", file, p, true},
		{"empty payload", write(t, nil, nil, []age.Recipient{id.Recipient()}), nil, true},
		{"fast X25519 recipient", write(t, p, nil, agefile.Fast([]age.Recipient{id.Recipient()})), p, true},
	}
	for k := 0; k <= 3; k++ {
		cases = append(cases, struct {
			name string
			file []byte
			want []byte
			ok   bool
		}{"cut after chunk " + string(rune('0'+k)), file[:hdr+k*agefile.BufferSize], p[:k*agefile.ChunkSize], false})
	}
	for _, c := range cases {
		in := filepath.Join(dir, "in.age")
		os.WriteFile(in, c.file, 0o600)
		cmd := exec.Command(tool, "-d", "-i", idFile, in)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		err := cmd.Run()
		if (err == nil) != c.ok {
			t.Fatalf("%s: age -d: %v (%s)", c.name, err, stderr.String())
		}
		if !bytes.Equal(out.Bytes(), c.want) {
			t.Fatalf("%s: age -d wrote %d bytes, want %d", c.name, out.Len(), len(c.want))
		}
	}
}

// TestPooledBuffers: files written through buffers from the pool, handed
// back and handed out again, decrypt correctly; a buffer comes back
// zeroed.
func TestPooledBuffers(t *testing.T) {
	t.Parallel()
	var pool agefile.Buffers
	rs, ids := keys(t, 1)
	for i := range 3 * 64 { // more than one mapping, reused
		buf := pool.Get()
		if len(buf) != 0 || cap(buf) < agefile.BufferSize {
			t.Fatalf("Get: len %d cap %d", len(buf), cap(buf))
		}
		if full := buf[:agefile.BufferSize]; !bytes.Equal(full, make([]byte, agefile.BufferSize)) {
			t.Fatalf("buffer %d handed out with data in it", i)
		}
		p := payload(agefile.ChunkSize + i)
		file := write(t, p, buf, rs)
		pool.Put(buf)
		r, err := age.Decrypt(bytes.NewReader(file), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(r); !bytes.Equal(got, p) {
			t.Fatalf("buffer %d: wrong plaintext", i)
		}
	}
	if pool.InUse() != 0 {
		t.Fatalf("InUse = %d", pool.InUse())
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

// TestErrors: a short buffer, no recipients and a failing destination are
// clear errors; a failed Writer stays failed.
func TestErrors(t *testing.T) {
	t.Parallel()
	rs, _ := keys(t, 1)
	if _, err := agefile.NewWriter(io.Discard, make([]byte, 10), rs...); err == nil {
		t.Error("short buffer accepted")
	}
	if _, err := agefile.NewWriter(io.Discard, nil); err == nil {
		t.Error("no recipients accepted")
	}
	if _, err := agefile.NewWriter(&failWriter{0}, nil, rs...); err == nil {
		t.Error("failed header write not reported")
	}
	w, err := agefile.NewWriter(&failWriter{1}, nil, rs...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, agefile.ChunkSize+1)); err == nil {
		t.Fatal("failed chunk write not reported")
	}
	if _, err := w.Write([]byte{1}); err == nil {
		t.Fatal("write after failure accepted")
	}
	if err := w.Close(); err == nil {
		t.Fatal("close after failure reported success")
	}
}

// BenchmarkWrite: sealing throughput and allocations in steady state.
func BenchmarkWrite(b *testing.B) {
	rs, _ := keys(b, 1)
	w, err := agefile.NewWriter(io.Discard, nil, rs...)
	if err != nil {
		b.Fatal(err)
	}
	rec := make([]byte, 200)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		w.Write(rec)
	}
}

// TestPoolWriter: a pooled Writer, whose buffer pages go back to the
// kernel between chunks, writes the same files; its buffer returns to the
// pool at Close and at Abandon.
func TestPoolWriter(t *testing.T) {
	t.Parallel()
	var pool agefile.Buffers
	rs, ids := keys(t, 1)
	for _, n := range sizes {
		p := payload(n)
		var out bytes.Buffer
		w, err := pool.NewWriter(&out, rs...)
		if err != nil {
			t.Fatal(err)
		}
		for q := p; len(q) > 0; {
			k := min(len(q), 1000)
			w.Write(q[:k])
			q = q[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := age.Decrypt(bytes.NewReader(out.Bytes()), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%d bytes: read %d, %v", n, len(got), err)
		}
		w2, _ := pool.NewWriter(io.Discard, rs...)
		w2.Write(p)
		w2.Abandon()
		if pool.InUse() != 0 {
			t.Fatalf("%d buffers still out", pool.InUse())
		}
	}
}
