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
package calls
