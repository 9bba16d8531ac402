package sealed_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/vault/agefile"
	"github.com/spanvault/spanvault/vault/sealed"
)

func frames(n int) []sealed.Frame {
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []sealed.Frame
	for i := 0; i < n; i++ {
		d := make([]byte, 14+20+8+12+160)
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		d[20] = byte(i) // a changing header field
		out = append(out, sealed.Frame{Time: t0.Add(time.Duration(i)*20*time.Millisecond + time.Duration(rng.IntN(1000))*time.Microsecond),
			Data: d, LinkType: 1, Kind: uint8(2 + i%2), Dir: uint8(i % 2), Flow: uint16(1 + i%2)})
	}
	return out
}

func write(t testing.TB, fs []sealed.Frame, hdr int) []byte {
	var buf bytes.Buffer
	w, err := sealed.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Meta([]byte(`{"a":1}`))
	for i := range fs {
		if err := w.Frame(&fs[i], hdr); err != nil {
			t.Fatal(err)
		}
	}
	w.Meta([]byte(`{"final":true}`))
	w.End()
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, hdr := range []int{0, 1, 54, 66, 300} {
		in := frames(500)
		b := write(t, in, hdr)
		r, err := sealed.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var got []sealed.Frame
		metas := 0
		for {
			var f sealed.Frame
			kind, _, err := r.Next(&f)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("hdr %d: %v", hdr, err)
			}
			switch kind {
			case sealed.RecMeta:
				metas++
			case sealed.RecFrame:
				got = append(got, sealed.Frame{Time: f.Time, Data: bytes.Clone(f.Data), LinkType: f.LinkType, Kind: f.Kind, Dir: f.Dir, Flow: f.Flow})
			}
		}
		if !r.Verified || metas != 2 || len(got) != len(in) {
			t.Fatalf("hdr %d: verified=%v metas=%d frames=%d", hdr, r.Verified, metas, len(got))
		}
		for i := range in {
			if !bytes.Equal(in[i].Data, got[i].Data) || !in[i].Time.Equal(got[i].Time) || in[i].Kind != got[i].Kind || in[i].Dir != got[i].Dir || in[i].Flow != got[i].Flow {
				t.Fatalf("hdr %d: frame %d differs", hdr, i)
			}
		}
	}
}

func TestTruncatedStream(t *testing.T) {
	t.Parallel()
	b := write(t, frames(50), 66)
	for _, cut := range []int{9, len(b) / 2, len(b) - 1} {
		r, err := sealed.NewReader(bytes.NewReader(b[:cut]))
		if err != nil {
			t.Fatal(err)
		}
		for {
			var f sealed.Frame
			_, _, err := r.Next(&f)
			if err == nil {
				continue
			}
			if !errors.Is(err, sealed.ErrTruncated) {
				t.Fatalf("cut %d: %v, want ErrTruncated", cut, err)
			}
			break
		}
	}
}

// TestHeaderCompression: RTP-like headers that advance regularly cost a
// few bytes per packet.
func TestHeaderCompression(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w, _ := sealed.NewWriter(&buf)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := make([]byte, 66+160)
	for i := 0; i < 1000; i++ {
		// IP ID (bytes 18-19), RTP seq (44-45) and timestamp (46-49) advance.
		d[18], d[19] = byte(i>>8), byte(i)
		d[44], d[45] = byte(i>>8), byte(i)
		ts := uint32(i * 160)
		d[46], d[47], d[48], d[49] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		w.Frame(&sealed.Frame{Time: t0.Add(time.Duration(i) * 20 * time.Millisecond), Data: d, LinkType: 1, Kind: 2}, 66)
	}
	per := float64(buf.Len())/1000 - 160
	if per > 12 {
		t.Fatalf("%.1f bytes of overhead per packet, want <= 12", per)
	}
}

func TestWriterAllocs(t *testing.T) {
	w, _ := sealed.NewWriter(io.Discard)
	f := frames(2)
	w.Frame(&f[0], 66)
	allocs := testing.AllocsPerRun(1000, func() { w.Frame(&f[0], 66) })
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(write(f, frames(5), 66))
	f.Add([]byte(sealed.Magic + "P\x00"))
	f.Add([]byte(sealed.MagicV1 + "E\x00"))
	// With sync points: 11 s of frames, cut to keep the seed small.
	fs := frames(560)
	for i := range fs {
		fs[i].Data = fs[i].Data[:70]
	}
	f.Add(write(f, fs, 66))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Reading from any sync point found is as safe as from the start.
		if sp, err := sealed.FindSync(bytes.NewReader(b), int64(len(b)), 0); err == nil {
			r := sealed.NewReaderAt(bytes.NewReader(b), int64(len(b)), sp)
			for i := 0; i < 10000; i++ {
				var fr sealed.Frame
				if _, _, err := r.Next(&fr); err != nil {
					break
				}
			}
		}
		r, err := sealed.NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i := 0; i < 10000; i++ {
			var fr sealed.Frame
			if _, _, err := r.Next(&fr); err != nil {
				return
			}
		}
	})
}

// TestFirstChunkCut: a recording cut by a crash while its first chunk was
// being written (a write cut short) reads as ErrFirstChunk, and one cut
// before any chunk as ErrTruncated: the export tells "nothing complete
// reached the disk" from damage by these.
func TestFirstChunkCut(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	var file bytes.Buffer
	aw, err := agefile.NewWriter(&file, nil, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w, err := sealed.NewWriter(aw)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		w.Frame(&sealed.Frame{Time: time.Unix(int64(i), 0), Data: bytes.Repeat([]byte{byte(i)}, 200)}, 40)
	}
	aw.Close()
	mac := bytes.Index(file.Bytes(), []byte("\n--- ")) + 1
	hdr := mac + bytes.IndexByte(file.Bytes()[mac:], '\n') + 1 + 16 // the MAC line, then the payload nonce
	for _, c := range []struct {
		cut  int
		want error
	}{{hdr, sealed.ErrTruncated}, {hdr + 100, sealed.ErrFirstChunk}, {hdr + 40000, sealed.ErrFirstChunk}} {
		r, err := age.Decrypt(bytes.NewReader(file.Bytes()[:c.cut]), id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sealed.NewReader(r); !errors.Is(err, c.want) {
			t.Errorf("cut at %d: %v, want %v", c.cut, err, c.want)
		}
	}
}

// TestSyncPoints: a reader can begin at any sync point (found in the age
// file's plaintext through DecryptReaderAt, which decrypts only the
// chunks read) and gets exactly the frames written after it; a payload
// that imitates a sync record is not taken for one.
func TestSyncPoints(t *testing.T) {
	t.Parallel()
	in := frames(5000) // 100 s: a sync point every 10 s
	fake := append([]byte("S"+sealed.SyncMagic), 0x80, 0x01, 0x00, 0x00)
	copy(in[1234].Data[60:], fake)
	plain := write(t, in, 66)
	id, _ := age.GenerateX25519Identity()
	var enc bytes.Buffer
	w, _ := age.Encrypt(&enc, id.Recipient())
	w.Write(plain)
	w.Close()
	ra, size, err := age.DecryptReaderAt(bytes.NewReader(enc.Bytes()), int64(enc.Len()), id)
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(plain)) {
		t.Fatalf("plaintext %d bytes, want %d", size, len(plain))
	}
	var sps []sealed.SyncPoint
	for from := int64(0); ; {
		sp, err := sealed.FindSync(ra, size, from)
		if errors.Is(err, sealed.ErrNoSync) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sps = append(sps, sp)
		from = sp.Offset + 1
	}
	if len(sps) < 8 || len(sps) > 10 {
		t.Fatalf("%d sync points in 100 s, want about 9", len(sps))
	}
	for _, sp := range sps {
		r := sealed.NewReaderAt(ra, size, sp)
		k := -1
		n := 0
		for {
			var f sealed.Frame
			kind, _, err := r.Next(&f)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("from sync point at %d: %v", sp.Offset, err)
			}
			if kind != sealed.RecFrame {
				continue
			}
			if k < 0 {
				for i := range in {
					if in[i].Time.Equal(f.Time) && bytes.Equal(in[i].Data, f.Data) {
						k = i
						break
					}
				}
				if k < 1 || !in[k-1].Time.Equal(sp.Time) {
					t.Fatalf("sync point at %d (time %v): first frame is %d", sp.Offset, sp.Time, k)
				}
			}
			want := in[k+n]
			if !bytes.Equal(want.Data, f.Data) || !want.Time.Equal(f.Time) || want.Kind != f.Kind || want.Dir != f.Dir || want.Flow != f.Flow {
				t.Fatalf("from sync point at %d: frame %d differs", sp.Offset, k+n)
			}
			n++
		}
		if k+n != len(in) {
			t.Fatalf("from sync point at %d: %d frames from %d, want %d", sp.Offset, n, k, len(in)-k)
		}
	}
	// The whole stream still reads and verifies from the start.
	r, _ := sealed.NewReader(bytes.NewReader(plain))
	got := 0
	for {
		var f sealed.Frame
		kind, _, err := r.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if kind == sealed.RecFrame {
			got++
		}
	}
	if !r.Verified || got != len(in) {
		t.Fatalf("sequential read: %d frames, verified %v", got, r.Verified)
	}
	// A recording without sync points (short, or written before them).
	short := write(t, frames(100), 66)
	if _, err := sealed.FindSync(bytes.NewReader(short), int64(len(short)), 0); !errors.Is(err, sealed.ErrNoSync) {
		t.Fatalf("short recording: %v", err)
	}
}

// asV1 turns a recording from Writer into the one the version before wrote:
// the old magic, and an 'E' end record with the SHA-256 of the frames.
func asV1(t *testing.T, b []byte, fs []sealed.Frame) []byte {
	t.Helper()
	h := sha256.New()
	for _, f := range fs {
		h.Write(f.Data)
	}
	end := append([]byte{'F'}, binary.AppendUvarint(nil, uint64(len(fs)))...)
	i := bytes.LastIndex(b, end)
	if i < 0 || len(b)-i != len(end)+4 {
		t.Fatal("no 'F' end record at the end")
	}
	old := append([]byte(sealed.MagicV1), b[len(sealed.Magic):i]...)
	old = append(old, 'E')
	old = binary.AppendUvarint(old, uint64(len(fs)))
	return h.Sum(old)
}

// TestEndRecordVersions: a recording from the version before (SHA-256 end
// record) still reads and verifies; a checksum off by one bit, or an end
// record of the other version, is corrupt; a reader resumed at a sync point
// takes either end record.
func TestEndRecordVersions(t *testing.T) {
	t.Parallel()
	in := frames(1200) // 24 s: two sync points
	v2 := write(t, in, 66)
	v1 := asV1(t, v2, in)
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}
	mixed := append([]byte(sealed.Magic), v1[len(sealed.MagicV1):]...)
	for _, tc := range []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"v2", v2, true},
		{"v1", v1, true},
		{"v2 checksum", flip(v2, len(v2)-1), false},
		{"v1 checksum", flip(v1, len(v1)-1), false},
		{"v2 magic, v1 end", mixed, false},
	} {
		r, err := sealed.NewReader(bytes.NewReader(tc.b))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var f sealed.Frame
		n := 0
		for {
			k, _, err := r.Next(&f)
			if err == io.EOF {
				break
			}
			if err != nil {
				if tc.ok {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if !errors.Is(err, sealed.ErrCorrupt) {
					t.Fatalf("%s: %v, want ErrCorrupt", tc.name, err)
				}
				break
			}
			if k == sealed.RecFrame {
				if !bytes.Equal(f.Data, in[n].Data) {
					t.Fatalf("%s: frame %d differs", tc.name, n)
				}
				n++
			}
		}
		if tc.ok && (!r.Verified || n != len(in)) {
			t.Fatalf("%s: verified %v after %d frames", tc.name, r.Verified, n)
		}
		if !tc.ok && r.Verified {
			t.Fatalf("%s: verified", tc.name)
		}
		if !tc.ok {
			continue
		}
		sp, err := sealed.FindSync(bytes.NewReader(tc.b), int64(len(tc.b)), 1)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		rr := sealed.NewReaderAt(bytes.NewReader(tc.b), int64(len(tc.b)), sp)
		for {
			_, _, err := rr.Next(&f)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s resumed: %v", tc.name, err)
			}
		}
	}
}

// BenchmarkFrame: G.711 RTP frames (66 header bytes, of which the IP ID,
// RTP sequence number and timestamp step and the UDP checksum changes, as
// on the wire) through the writer's coding, to a discarding destination.
func BenchmarkFrame(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := make([]byte, 66+160)
	for j := range base {
		base[j] = byte(rng.Uint32())
	}
	in := make([]sealed.Frame, 1000)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range in {
		d := bytes.Clone(base)
		binary.BigEndian.PutUint16(d[18:], uint16(i))            // IP ID
		binary.BigEndian.PutUint16(d[40:], uint16(rng.Uint32())) // UDP checksum
		binary.BigEndian.PutUint16(d[44:], uint16(i))            // RTP sequence
		binary.BigEndian.PutUint32(d[46:], uint32(160*i))        // RTP timestamp
		in[i] = sealed.Frame{Time: t0.Add(time.Duration(i) * 20 * time.Millisecond), Data: d, LinkType: 1, Kind: 2, Flow: 1}
	}
	w, _ := sealed.NewWriter(io.Discard)
	b.ReportAllocs()
	b.SetBytes(int64(len(base)))
	for i := 0; b.Loop(); i++ {
		w.Frame(&in[i%len(in)], 66)
	}
}
