package record

// MatchPattern matches a dial pattern (a retention rule's numbers, the
// extensions that make a party local): digits and letters match
// themselves, 'x' or 'X' any digit, and a trailing '*' any rest.
func MatchPattern(pattern, s string) bool {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '*' && i == len(pattern)-1 {
			return true
		}
		if i >= len(s) {
			return false
		}
		switch p := pattern[i]; p {
		case 'x', 'X':
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		default:
			if p != s[i] {
				return false
			}
		}
	}
	return len(s) == len(pattern)
}
