package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/record/media"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/sealed"
)

// DamagedError reports a recording whose file fails to authenticate at
// a chunk: the frames before it were exported.
type DamagedError struct {
	ID     string
	Chunk  int64 // 1-based age STREAM chunk (64 KiB of plaintext each)
	Frames int   // frames exported before it
	Err    error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("export %s: damaged at chunk %d (plaintext bytes from %d): %v; the %d frames before it were exported", e.ID, e.Chunk, (e.Chunk-1)*64<<10, e.Err, e.Frames)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// Frames reads every frame of a recording. truncated reports a recording
// that was interrupted; its frames up to the break are returned.
//
// A finished recording is first checked against the size and SHA-256 its
// index entry holds: a file that is another recording's is refused
// (vault.ErrSwapped); a file that was altered or damaged is read up to the
// first chunk that fails to authenticate, and a *DamagedError names it.
func Frames(v *vault.Vault, id string, ids []age.Identity) (frames []sealed.Frame, truncated bool, err error) {
	e, err := v.Get(id)
	if err != nil {
		return nil, false, err
	}
	interrupted := e.State == vault.StateTruncated
	var integrity error
	if !interrupted {
		if integrity = v.VerifyFile(id); errors.Is(integrity, vault.ErrSwapped) {
			return nil, false, fmt.Errorf("export: %w", integrity)
		}
	}
	r, c, pulled, err := v.OpenRecordingCounted(id, ids)
	if err != nil {
		if interrupted && (errors.Is(err, sealed.ErrTruncated) || errors.Is(err, sealed.ErrFirstChunk)) {
			// Nothing complete reached the disk before the break: the
			// crash came before or while the first chunk was written (a
			// write cut short by SIGKILL leaves part of it).
			return nil, true, nil
		}
		if integrity != nil {
			return nil, false, fmt.Errorf("export: %w (%v)", integrity, err)
		}
		return nil, false, err
	}
	defer c.Close()
	for {
		var f sealed.Frame
		kind, meta, err := r.Next(&f)
		if err == io.EOF {
			if integrity != nil {
				return frames, false, fmt.Errorf("export: %w: the stream reads whole but the file differs from what was sealed", integrity)
			}
			return frames, false, nil
		}
		if err != nil {
			// An interrupted recording ends at its last complete age
			// chunk: the break shows as a truncated stream or as a
			// chunk that does not authenticate.
			if interrupted {
				return frames, true, nil
			}
			return frames, false, &DamagedError{ID: id, Chunk: pulled()/(64<<10) + 1, Frames: len(frames), Err: err}
		}
		switch kind {
		case sealed.RecFrame:
			frames = append(frames, f)
		case sealed.RecMeta:
			// The recording names itself: a file moved under another ID
			// whose index entry was edited to match is still caught.
			var m struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(meta, &m) == nil && m.ID != "" && m.ID != id {
				return nil, false, fmt.Errorf("export: %s: %w: it is recording %s", id, vault.ErrSwapped, m.ID)
			}
		}
	}
}

// WritePcap writes frames as a pcap file (media.WritePcap).
func WritePcap(w io.Writer, frames []sealed.Frame) error { return media.WritePcap(w, frames) }

// AudioPackets extracts the RTP packets of a recording for the renderer
// (media.AudioPackets).
func AudioPackets(frames []sealed.Frame, formats map[uint8]string) []audio.Packet {
	return media.AudioPackets(frames, formats)
}

// AudioReader turns stored frames into the renderer's packets one at a
// time (media.AudioReader).
type AudioReader = media.AudioReader

// NewAudioReader reads with the recording's payload type names.
func NewAudioReader(formats map[uint8]string) *AudioReader { return media.NewAudioReader(formats) }

// Explained is the streams of a recording its audio is made of
// (media.Explained).
func Explained(e *vault.Entry) map[audio.SSRCDir]bool { return media.Explained(e) }
