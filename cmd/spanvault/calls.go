package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/audit"
	"github.com/spanvault/spanvault/vault/export"
)

func init() {
	register("calls", "list the call detail records in a vault (personal fields only with -identity)", cmdCalls)
	register("export", "export a recording as WAV audio or as the original packets (pcap)", cmdExport)
}

// CallRecord is one line of "calls -json".
type CallRecord struct {
	ID        string         `json:"id"`
	CallID    string         `json:"call_id,omitempty"`
	From      string         `json:"from,omitempty"`
	To        string         `json:"to,omitempty"`
	PAI       string         `json:"pai,omitempty"`
	Start     time.Time      `json:"start"`
	Answer    *time.Time     `json:"answer,omitempty"`
	End       *time.Time     `json:"end,omitempty"`
	Duration  float64        `json:"duration_s"`
	State     string         `json:"state"`
	EndReason string         `json:"end_reason,omitempty"`
	Direction string         `json:"direction,omitempty"`
	Recorded  bool           `json:"recorded"`
	Storage   string         `json:"storage"`
	Class     string         `json:"class"`
	Expiry    *time.Time     `json:"expiry,omitempty"`
	Holds     []string       `json:"holds,omitempty"`
	Sync      string         `json:"sync"`
	Codecs    []string       `json:"codecs,omitempty"`
	Streams   []StreamRecord `json:"streams"`
	Events    []any          `json:"events,omitempty"`
	Size      int64          `json:"size"`
}

// StreamRecord is one RTP stream of a CallRecord.
type StreamRecord struct {
	SSRC        string  `json:"ssrc"`
	PayloadType uint8   `json:"payload_type"`
	Codec       string  `json:"codec"`
	Dir         string  `json:"dir"`
	Src         string  `json:"src,omitempty"`
	Dst         string  `json:"dst,omitempty"`
	Packets     uint64  `json:"packets"`
	Lost        int64   `json:"lost"`
	JitterMS    float64 `json:"jitter_ms"`
	MOS         float64 `json:"mos"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func callRecord(e *vault.Entry, p *vault.Personal) CallRecord {
	r := CallRecord{ID: e.ID, Start: e.Start, Answer: tp(e.Answer), End: tp(e.End), Duration: e.Duration, State: e.CallState,
		EndReason: e.EndReason, Direction: e.Direction, Recorded: e.Recorded, Storage: e.State, Class: e.Class, Expiry: tp(e.Expiry),
		Holds: e.Holds, Sync: e.Sync, Codecs: e.Codecs, Streams: []StreamRecord{}, Size: e.Size}
	for i, s := range e.Streams {
		sr := StreamRecord{SSRC: s.SSRC, PayloadType: s.PayloadType, Codec: s.Codec, Dir: s.Dir, Packets: s.Packets, Lost: s.Lost, JitterMS: s.JitterMS, MOS: s.MOS}
		if p != nil && i < len(p.Streams) {
			sr.Src, sr.Dst = p.Streams[i].Src, p.Streams[i].Dst
		}
		r.Streams = append(r.Streams, sr)
	}
	if p != nil {
		r.CallID, r.From, r.To, r.PAI = p.CallID, p.From, p.To, p.PAI
		for _, ev := range p.Events {
			r.Events = append(r.Events, ev)
		}
	} else {
		for _, ev := range e.Events {
			r.Events = append(r.Events, ev)
		}
	}
	return r
}

func openVault(dir string, readOnly bool) (*vault.Vault, error) {
	if _, err := os.Stat(filepath.Join(dir, "vault.db")); err != nil {
		return nil, fmt.Errorf("%w: %s", vault.ErrNoVault, dir)
	}
	return vault.Open(vault.Options{Dir: dir, ReadOnly: readOnly})
}

// openWithIdentity reads the identity (if given) and opens the vault.
func openWithIdentity(dir, idPath string, readOnly bool) (*vault.Vault, []age.Identity, error) {
	ids, err := loadIdentity(idPath)
	if err != nil {
		return nil, nil, err
	}
	v, err := openVault(dir, readOnly)
	return v, ids, err
}

func loadIdentity(path string) ([]age.Identity, error) {
	if path == "" {
		return nil, nil
	}
	return config.ReadIdentities(path)
}

func cmdCalls(args []string, stdout io.Writer) error {
	fs := newFlags("calls")
	dir := fs.String("vault", "", "vault directory")
	asJSON := fs.Bool("json", false, "print a JSON array")
	idPath := fs.String("identity", "", "age identity file: adds the personal fields (Call-ID, from, to, addresses)")
	idsOnly := fs.Bool("q", false, "print only the IDs of recorded calls, one per line")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "vault"); err != nil {
		return err
	}
	v, ids, err := openWithIdentity(*dir, *idPath, true)
	if err != nil {
		return err
	}
	defer v.Close()
	es, err := v.List()
	if err != nil {
		return err
	}
	if *idsOnly {
		for _, e := range es {
			if e.Recorded {
				fmt.Fprintln(stdout, e.ID)
			}
		}
		return nil
	}
	out := []CallRecord{}
	for _, e := range es {
		var p *vault.Personal
		if ids != nil {
			p, err = v.Personal(e.ID, ids)
			if errors.Is(err, vault.ErrNotFound) {
				// Its sealed metadata was lost with a damaged index (and
				// it has no file keeping a copy): listed without it.
				p, err = nil, nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", e.ID, err)
			}
		}
		out = append(out, callRecord(e, p))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, r := range out {
		who := ""
		if r.From != "" || r.To != "" {
			who = r.From + " -> " + r.To
		}
		fmt.Fprintf(stdout, "%s  %s  %-10s %-8s %5.0fs %2d streams  %s\n", r.ID, r.Start.Format(time.RFC3339), r.State, r.Storage, r.Duration, len(r.Streams), who)
	}
	return nil
}

func cmdExport(args []string, stdout io.Writer) error {
	fs := newFlags("export")
	dir := fs.String("vault", "", "vault directory")
	idPath := fs.String("identity", "", "age identity file (required: the box cannot decrypt)")
	call := fs.String("call", "", "recording ID or SIP Call-ID")
	out := fs.String("o", "", "output file: .wav for audio, .pcap for the original packets")
	actor := fs.String("by", "cli", "who exports (audited)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "vault", "identity", "call", "o"); err != nil {
		return err
	}
	v, ids, err := openWithIdentity(*dir, *idPath, false)
	if err != nil {
		return err
	}
	defer v.Close()
	id, err := v.Resolve(*call, ids)
	if err != nil {
		return err
	}
	e, err := v.Get(id)
	if err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if ext != ".wav" && ext != ".pcap" && ext != ".pcapng" {
		// Checked before anything is opened: an existing file is never
		// touched by a refused export.
		return usageError{"-o must end in .wav or .pcap"}
	}
	frames, truncated, ferr := export.Frames(v, id, ids)
	var damaged *export.DamagedError
	if ferr != nil && !errors.As(ferr, &damaged) {
		return ferr
	}
	note := ""
	if truncated {
		note = " (recording was interrupted; exported up to its last complete chunk)"
	}
	if damaged != nil {
		note = fmt.Sprintf(" (DAMAGED at chunk %d: only the %d frames before it)", damaged.Chunk, damaged.Frames)
	}
	// Written under a temporary name and renamed when complete.
	tmp := *out + ".part"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	defer f.Close()
	switch ext {
	case ".pcap", ".pcapng":
		if err := export.WritePcap(f, frames); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d packets written to %s%s\n", id, len(frames), *out, note)
	case ".wav":
		res, err := audio.RenderWith(export.AudioPackets(frames, e.Formats), export.RenderOptions(e))
		if err != nil {
			return fmt.Errorf("%s: %w (try -o %s)", id, err, strings.TrimSuffix(*out, filepath.Ext(*out))+".pcap")
		}
		if err := res.WriteWAV(f); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %.1fs of stereo audio at %d Hz written to %s%s\n", id, float64(len(res.Left))/float64(res.Rate), res.Rate, *out, note)
		if res.LeftOut > 0 {
			fmt.Fprintf(stdout, "  %d packets of streams overlapping the call's own (spoofed or foreign; anomalies on the call) are left out of the WAV; the pcap export keeps them\n", res.LeftOut)
		}
		if res.Jumps > 0 {
			fmt.Fprintf(stdout, "  %d RTP timestamp jumps (anomalies): the audio after each continues at its capture time\n", res.Jumps)
		}
		if res.Beyond > 0 {
			fmt.Fprintf(stdout, "  %d packets lie past the call's end (plus %s) and are left out of the WAV; the pcap export keeps them\n", res.Beyond, audio.Margin)
		}
		for codec, n := range res.Undecodable {
			fmt.Fprintf(stdout, "  %d packets of %s have no decoder here and are silent in the WAV; export a pcap to keep them\n", n, codec)
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	if err := v.Audit(audit.Export, *actor, id, strings.TrimPrefix(ext, ".")); err != nil {
		return err
	}
	return ferr // a damaged recording: exported in part, and said so
}
