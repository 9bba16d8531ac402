// Package sip parses SIP messages (RFC 3261) as they appear on the wire,
// well enough to follow dialogs passively: request line or status line,
// the dialog-forming headers in long and compact form, and the body.
//
// Parse is zero-copy: every field of a Message is a sub-slice of the input,
// so a Message is valid only as long as the bytes it was parsed from. It
// never panics on malformed input; anything that does not look like SIP is
// ErrNotSIP, and a message whose headers or Content-Length body have not
// fully arrived (a TCP stream still filling) is ErrIncomplete.
package sip
