// Package rtpstream keeps the statistics of one RTP stream (one SSRC from
// one source to one destination): packets, loss, duplicates, reordering,
// interarrival jitter per RFC 3550 appendix A.8, and an estimated MOS from
// the ITU-T G.107 E-model.
//
// Loss is counted the way tshark's rtp,streams counts it, so that figures
// can be compared with the reference decoder: expected packets are the span
// of extended sequence numbers from the first to the highest seen, and lost
// is expected minus received, which goes negative when a sender repeats
// packets (RFC 4733 end events are sent three times).
//
// Add allocates nothing.
package rtpstream
