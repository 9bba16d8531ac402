// Package calls follows SIP INVITE dialogs and associates media with them:
// it is where packets become calls.
//
// A Tracker receives parsed SIP messages and UDP packets. From the SDP
// offer and answer of both sides it learns where each side receives media;
// an RTP flow is matched to a call by its advertised destination, or, when
// NAT rewrote the address, by its advertised source (only after the hold
// window: media that comes before its SDP is held for it), and then
// latched by its 5-tuple. A flow latched by its source is the weaker
// guess: it moves to the first call whose SDP then names its destination
// (a media server sending every call from one port). A flow latched by
// destination to a live call with media both ways stays with it against
// other dialogs' SDPs (a hijack). Among dialogs whose SDPs name one
// destination, the one whose signalling explains the source wins.
//
// Only the streams a call's signalling explains (explain.go: the sending
// party's SDP host, signalling host or latched NAT source) are its
// Streams, its audio and its DTMF, whatever arrived first; RTP from
// elsewhere is counted (Unexplained, Anomalies) and stored only up to
// MaxUnexplainedStored packets per call. Each call's frames go to a Recording as they arrive, so a
// crash loses only the last moments of calls in progress; SIP frames seen
// before the first media packet are held (bounded) and written first.
//
// When a call ends (BYE, rejection, cancel, media or dialog timeout,
// eviction, shutdown), its signalling is reconciled with its media and the
// gaps (answered but no media, one-way media, media stopped before the
// BYE) become events on the call rather than being hidden.
//
// Memory is bounded: dialogs expire by capture time, the number held at
// once is capped (MaxCalls), and so are unassociated flows and the SIP
// bytes held per call. Time comes only from packet timestamps, so a
// capture file replays the same way every time.
//
// The Tracker's work is split by concern: tracker.go holds its
// configuration, counters and controls; dialog.go the SIP dialog machine
// and SDP; flows.go the flow table (the media-association maps and the
// rules that fill them); media.go the per-packet RTP work and dtmf.go the
// telephone-events; explain.go which sources a call's signalling
// explains; held.go media held for an SDP still on its way; unassoc.go
// streams no call explains; recording.go the frames handed to the
// Recorder; end.go the end of calls; parties.go which party is local.
// capture file replays the same way every time.
//
// # Completeness: whose loss a missing packet was
//
// Each stream carries a completeness record (completeness.go,
// record.StreamCompleteness), worked out from three witnesses. The box
// sits on a mirror port: it sees a copy of what crosses one point (the
// wire) of the path from a stream's sender to its receiver, and the copy
// can be lost on its own way to the box (an oversubscribed mirror, a full
// ring) without the receiver losing anything.
//
//   - The sequence numbers the box captured: a sender numbers its packets
//     one by one, so the span from the first to the highest number seen
//     (ExpectedSeq) less the distinct packets captured is the gap: packets
//     that did not reach the box, for whatever reason.
//   - The sender's reports (RTCP SR): the sender's packet count is what it
//     sent from the stream's start to the report. Compared with the span
//     the box had seen when the report passed the wire, it shows packets
//     sent before the first number the box saw (ExpectedSR adds them).
//     These never crossed the wire as far as anything can show (the
//     receiver's counting starts at the first packet it got), and are
//     counted as the network's.
//   - The receiver's reports (RTCP RR, and the report blocks of its SRs),
//     which cross the wire in the other direction: the cumulative number
//     lost is what the receiver expected, from its first to its extended
//     highest sequence number, and did not get. A packet the receiver got
//     crossed the wire (the mirror is on the path), so a packet missing at
//     the box that the receiver has is the capture's loss: it crossed the
//     wire and the box missed it.
//
// So, over the range a reception report covers (the box's sequence
// numbers up to the report's extended highest, counted when the box has
// captured that far, or when the call ends): of the gap G in that range
// and the receiver's loss L, min(L, G) is the network's loss before the
// wire (missing at both ends: it never crossed), G - min(L, G) is the
// capture's (the receiver got those), and L - min(L, G) the network's
// loss after the wire (the box has those; the recording does not miss
// them). Gaps beyond the last reception report, or on a stream without
// one, stay Unattributed: nothing shows whose they were. The counts
// settle it exactly when the receiver loses nothing the box captured, or
// the box misses nothing the receiver lost; where both happen on the
// same range, min(L, G) is the most loss the network can have caused
// before the wire and the capture's share a lower bound, which errs
// towards "the network's", never towards blaming a complete recording.
// Reports are taken as the endpoints send them; a forged report can move
// loss between the two columns but not change the gap the box measured.
// A call with any LostCapture is "recorded incomplete by us".
package calls
