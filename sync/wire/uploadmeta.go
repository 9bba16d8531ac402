package wire

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// HeaderMetadata is tus's Upload-Metadata header: comma-separated pairs
// of a key and its base64-encoded value ("class bWlmaWQ=,start MjAy...").
// A box sends it with every PATCH of a recording's object (UploadMeta), so
// that the archive can write the object with the lock its record will ask
// for; an archive that does not know it ignores it, and an archive that
// gets none (an older box) locks the object when the record arrives.
const HeaderMetadata = "Upload-Metadata"

// MaxUploadMeta bounds the Upload-Metadata header the archive reads.
const MaxUploadMeta = 1 << 10

// UploadMeta is what a box says about an object with its upload: the
// class and start of the recording it seals, the same as its record will
// say. The record still decides: the archive's lock is never shorter or
// weaker than the record's class asks, whatever the upload said.
type UploadMeta struct {
	Class string
	Start time.Time
}

// Header is m in Upload-Metadata's form.
func (m UploadMeta) Header() string {
	enc := base64.StdEncoding.EncodeToString
	return "class " + enc([]byte(m.Class)) + ",start " + enc([]byte(m.Start.UTC().Format(time.RFC3339Nano)))
}

// ParseUploadMeta reads an Upload-Metadata header. ok is false when it
// carries no class and start (an older box, another tus client); keys it
// does not know are skipped, as tus asks.
func ParseUploadMeta(h string) (m UploadMeta, ok bool, err error) {
	if h == "" {
		return m, false, nil
	}
	if len(h) > MaxUploadMeta {
		return m, false, fmt.Errorf("%s: longer than %d bytes", HeaderMetadata, MaxUploadMeta)
	}
	var class, start bool
	for _, pair := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(pair), " ")
		if k != "class" && k != "start" {
			continue
		}
		b, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if derr != nil {
			return m, false, fmt.Errorf("%s: %s is not base64", HeaderMetadata, k)
		}
		switch k {
		case "class":
			if len(b) == 0 || len(b) > 64 {
				return m, false, fmt.Errorf("%s: class empty or too long", HeaderMetadata)
			}
			m.Class, class = string(b), true
		case "start":
			t, perr := time.Parse(time.RFC3339Nano, string(b))
			if perr != nil {
				return m, false, fmt.Errorf("%s: start: %w", HeaderMetadata, perr)
			}
			m.Start, start = t, true
		}
	}
	if class != start {
		return UploadMeta{}, false, errors.New(HeaderMetadata + ": class and start go together")
	}
	return m, class, nil
}
