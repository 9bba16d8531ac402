package record

import "strings"

// NormalizeNumber reduces a phone number or SIP user to the form used for
// subject matching: digits only (a leading '+' and separators dropped);
// a user part that is not a number is kept lower-cased.
func NormalizeNumber(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '+' || r == '-' || r == ' ' || r == '(' || r == ')' || r == '.':
		default:
			return strings.ToLower(s)
		}
	}
	if digits == 0 {
		return strings.ToLower(s)
	}
	return b.String()
}
