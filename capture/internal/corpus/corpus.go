package corpus

import (
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/decode"
)

// Dir returns the corpus directory, or "" when it is absent.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	// capture/internal/corpus -> repository root -> ../shared/corpus
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	d := filepath.Join(root, "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(d, "expected.json")); err != nil {
		return ""
	}
	return d
}

// Pcaps lists the corpus captures.
func Pcaps() []string {
	d := Dir()
	if d == "" {
		return nil
	}
	m, _ := filepath.Glob(filepath.Join(d, "pcaps", "*"))
	sort.Strings(m)
	return m
}

// Frame is one frame of a corpus capture.
type Frame struct {
	Data []byte
	Link decode.LinkType
	Time time.Time
}

// Frames reads every frame of every corpus capture (copies).
func Frames() []Frame {
	var out []Frame
	for _, p := range Pcaps() {
		f, err := capture.OpenFile(p)
		if err != nil {
			continue
		}
		for {
			data, ts, lt, err := f.Next()
			if err != nil {
				break
			}
			out = append(out, Frame{Data: append([]byte(nil), data...), Link: lt, Time: ts})
		}
		f.Close()
	}
	return out
}

// UDPPayloads returns the transport payloads of the corpus's UDP and TCP
// packets that satisfy keep.
func UDPPayloads(keep func([]byte) bool) [][]byte {
	dec := decode.New(decode.Options{})
	var p decode.Packet
	var out [][]byte
	for _, f := range Frames() {
		ok, err := dec.Decode(f.Data, f.Link, f.Time, &p)
		if err != nil || !ok || len(p.Payload) == 0 {
			continue
		}
		if keep(p.Payload) {
			out = append(out, append([]byte(nil), p.Payload...))
		}
	}
	return out
}
