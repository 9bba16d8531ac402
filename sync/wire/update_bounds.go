package wire

import "time"

// The bounds of an offer's ConfirmWithin: the archive refuses a rollout
// outside them, and a box clamps what it is offered into them (a new
// firmware's trial neither ends before it could check in nor holds a
// bad build for days).
const (
	MinConfirmWithin = time.Minute
	MaxConfirmWithin = 24 * time.Hour
)

// ClampConfirmWithin brings d into MinConfirmWithin..MaxConfirmWithin.
func ClampConfirmWithin(d time.Duration) time.Duration {
	return min(max(d, MinConfirmWithin), MaxConfirmWithin)
}
