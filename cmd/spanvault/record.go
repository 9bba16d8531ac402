package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/retention"
)

func init() {
	register("record", "record the calls in capture files into a vault (offline; same pipeline as live)", cmdRecord)
}

func cmdRecord(args []string, stdout io.Writer) error {
	fs := newFlags("record")
	dir := fs.String("vault", "", "vault directory (created if missing)")
	recip := fs.String("recipient", "", "file of age recipients to seal to, one per line (as age -R reads)")
	cfgPath := fs.String("config", "", "appliance configuration, for retention rules, local networks and timeouts (optional)")
	cpuProf := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
	memProf := fs.String("memprofile", "", "write a heap profile (pprof, in-use and allocations) at the end to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cpuProf != "" {
		stop, err := startCPUProfile(*cpuProf)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *memProf != "" {
		defer writeHeapProfile(*memProf)
	}
	if err := need(fs, "vault", "recipient"); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{"no capture files given"}
	}
	recipients, err := config.ReadRecipients(*recip)
	if err != nil {
		return err
	}
	policy := retention.DefaultPolicy()
	tcfg := calls.Config{}
	dopt := decode.DefaultOptions
	region := ""
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		policy = &cfg.Retention
		tcfg = trackerConfig(cfg)
		region = cfg.Capture.PhoneRegion
		dopt.DuplicateWindow = time.Duration(cfg.Capture.DedupWindow)
	}
	v, err := vault.Open(vault.Options{Dir: *dir, Recipients: recipients, Policy: policy, PhoneRegion: region})
	if err != nil {
		return err
	}
	defer v.Close()
	var failed []error
	for _, path := range fs.Args() {
		f, err := capture.OpenFile(path)
		if err != nil {
			failed = append(failed, err)
			fmt.Fprintf(stdout, "%s: %v\n", path, err)
			continue
		}
		// The summary keeps one line per call, not the call: a finished
		// call's streams, events and recording are released at once, so
		// memory follows the calls open at a time, not the capture's length.
		var done []callLine
		var unassoc []*calls.Unassociated
		tr := calls.NewTracker(tcfg, v, v)
		tr.Done = func(c *calls.Call) { done = append(done, summarize(c)) }
		tr.UnassocDone = func(u *calls.Unassociated) { unassoc = append(unassoc, u) }
		p := capture.NewPipeline(decode.New(dopt), tr)
		runErr := p.Run(f)
		p.Close("capture ended")
		f.Close()
		printSummary(stdout, path, p, done, unassoc)
		if runErr != nil {
			fmt.Fprintf(stdout, "  stopped early: %v (everything before the break was recorded)\n", runErr)
			failed = append(failed, runErr)
		}
	}
	return errors.Join(failed...)
}

func trackerConfig(cfg *config.Config) calls.Config {
	return calls.Config{
		MediaTimeout:  time.Duration(cfg.Capture.MediaTimeout),
		DialogTimeout: time.Duration(cfg.Capture.DialogTimeout),
		LocalNets:     cfg.LocalPrefixes(),
		Extensions:    cfg.Capture.Extensions,
	}
}

// printSummary prints what was recorded: counts and opaque figures only,
// no numbers or addresses (those need the identity: "calls -identity").
func printSummary(w io.Writer, path string, p *capture.Pipeline, done []callLine, unassoc []*calls.Unassociated) {
	recorded := 0
	for _, c := range done {
		if c.recorded {
			recorded++
		}
	}
	ds := p.Decoder.Stats
	fmt.Fprintf(w, "%s: %d frames, %d SIP messages, %d calls, %d recorded, %d unassociated RTP streams",
		path, ds.Frames, p.Stats.SIPOverUDP+p.Stats.SIPOverTCP, len(done), recorded, len(unassoc))
	if ds.Malformed > 0 {
		fmt.Fprintf(w, ", %d malformed frames skipped", ds.Malformed)
	}
	if p.Stats.TLSConnections > 0 {
		fmt.Fprintf(w, ", %d SIP-over-TLS connections (not readable passively)", p.Stats.TLSConnections)
	}
	fmt.Fprintln(w)
	for _, c := range done {
		line := fmt.Sprintf("  %-10s %-9s %3d streams %6d RTP packets", c.state, yesNo(c.recorded, "recorded", "no media"), c.streams, c.packets)
		for _, g := range c.gaps {
			line += "  [" + g + "]"
		}
		fmt.Fprintln(w, line)
	}
	for _, u := range unassoc {
		fmt.Fprintf(w, "  unassociated RTP: ssrc 0x%08x %s, %d packets, %d lost\n", u.Stats.SSRC, u.Codec, u.Stats.Packets, u.Stats.Lost())
	}
	_ = os.Stdout.Sync() // a terminal or pipe cannot be synced; a file can
}

// callLine is what the summary prints of a finished call.
type callLine struct {
	state    calls.State
	recorded bool
	streams  int
	packets  uint64
	gaps     []string
}

func summarize(c *calls.Call) callLine {
	l := callLine{state: c.State, recorded: c.Recorded, streams: len(c.Streams)}
	for _, s := range c.Streams {
		l.packets += s.Stats.Packets
	}
	for _, e := range c.Events {
		if len(e.Kind) > 4 && e.Kind[:4] == "gap_" {
			l.gaps = append(l.gaps, e.Kind)
		}
	}
	return l
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "memprofile:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "memprofile:", err)
	}
}

func yesNo(b bool, y, n string) string {
	if b {
		return y
	}
	return n
}
