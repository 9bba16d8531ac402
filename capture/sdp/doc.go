// Package sdp parses Session Description Protocol bodies (RFC 8866) as far
// as a passive recorder needs them: where each audio stream will arrive
// (connection address and port, RTCP port), which payload types mean which
// codec at which clock rate, and the direction attributes that signal hold.
//
// Parse is lenient, as SDP in the wild is: unknown lines are ignored, a
// malformed line is skipped, and only a body without any parsable m= line
// is an error. It never panics.
package sdp
