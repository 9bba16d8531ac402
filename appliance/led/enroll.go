package led

import (
	"strings"
	"time"
)

// codeAlphabet is the enrollment code's (wire.EnrollCode: Crockford base 32).
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// EnrollSteps spells the first two characters of an enrollment code (ten
// bits, most significant first) so that a person at the branch can tell
// which box shows which code: a long flash (600 ms) is a 1, a short one
// (150 ms) a 0, 300 ms apart, then 2 s off. A code it cannot read blinks
// slowly.
func EnrollSteps(code string) []Step {
	c := strings.ReplaceAll(code, "-", "")
	if len(c) < 2 {
		return []Step{{true, 500 * time.Millisecond}, {false, 1500 * time.Millisecond}}
	}
	hi, lo := strings.IndexByte(codeAlphabet, c[0]), strings.IndexByte(codeAlphabet, c[1])
	if hi < 0 || lo < 0 {
		return []Step{{true, 500 * time.Millisecond}, {false, 1500 * time.Millisecond}}
	}
	v := hi<<5 | lo
	var out []Step
	for bit := 9; bit >= 0; bit-- {
		on := 150 * time.Millisecond
		if v>>bit&1 == 1 {
			on = 600 * time.Millisecond
		}
		out = append(out, Step{true, on}, Step{false, 300 * time.Millisecond})
	}
	out[len(out)-1].For = 2 * time.Second
	return out
}

// SetCode sets the enrollment code the Enrolling pattern spells.
func (d *Driver) SetCode(code string) {
	d.mu.Lock()
	d.code = code
	d.mu.Unlock()
}

func (d *Driver) steps(p Pattern) []Step {
	if p == Enrolling {
		d.mu.Lock()
		code := d.code
		d.mu.Unlock()
		return EnrollSteps(code)
	}
	return p.Steps()
}
