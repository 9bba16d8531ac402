// Package sipptest holds what the live tests and the load tool share to
// drive sipp and check what it sent: the audio sipp plays, the scenarios
// that stream it for a whole call, and the check that a rendered channel
// holds that audio and nothing else.
package sipptest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/decode"
)

// ALaw returns the A-law payloads of a sipp sample pcap, in order: what
// sipp sends when it plays it, and the raw file its rtp_stream plays.
func ALaw(pcap string) ([]byte, error) {
	f, err := capture.OpenFile(pcap)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := decode.New(decode.Options{})
	var p decode.Packet
	var alaw []byte
	for {
		data, ts, lt, err := f.Next()
		if err != nil {
			break
		}
		if ok, err := dec.Decode(data, lt, ts, &p); err == nil && ok && len(p.Payload) > 12 {
			alaw = append(alaw, p.Payload[12:]...)
		}
	}
	if len(alaw) == 0 {
		return nil, fmt.Errorf("sipptest: %s holds no RTP", pcap)
	}
	return alaw, nil
}

// dtmfBlock is the scenarios' optional DTMF playback.
const dtmfBlock = `<nop>
    <action>
      <exec play_pcap_audio="[$dtmf]"/>
    </action>
  </nop>`

// Streaming turns one of capture/testdata/sipp's scenarios into one that
// streams the raw A-law file for the whole call with sipp's rtp_stream
// (one sender thread for all calls) instead of a playback thread per
// call, holding the call for hold, without DTMF.
func Streaming(scenario, raw string, hold time.Duration) string {
	return strings.NewReplacer(
		dtmfBlock, "",
		`<exec play_pcap_audio="[$audio]"/>`, `<exec rtp_stream="`+raw+`,-1,8"/>`,
		`<exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/>`, `<exec rtp_stream="`+raw+`,-1,8"/>`,
		`<pause milliseconds="7500"/>`, fmt.Sprintf(`<pause milliseconds="%d"/>`, hold.Milliseconds())).Replace(scenario)
}

// Occurrences counts where want appears whole in ch, and the samples
// outside those that are not silence (stray: audio that is not want's).
func Occurrences(ch, want []int16) (n int, stray int) {
	covered := make([]bool, len(ch))
	for i := 0; i+len(want) <= len(ch); i++ {
		if slices.Equal(ch[i:i+len(want)], want) {
			n++
			for j := range want {
				covered[i+j] = true
			}
			i += len(want) - 1
		}
	}
	for i, s := range ch {
		if !covered[i] && s != 0 {
			stray++
		}
	}
	return n, stray
}
