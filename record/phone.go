package record

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Phone numbers are written in many ways: "030 5550001", "0049 30
// 5550001", "+49 30 5550001" and the SIP user "+49305550001" are one number for
// a caller in Germany. NumberForms reduces a number to every form under
// which a box or the archive may have stored it, so that a lookup in any
// one of them finds the others. Box and archive both call it, with the
// region their configuration names (a CLDR region code such as "DE").

// CheckRegion reports whether region is a region code the phone-number
// library knows ("" is allowed: national forms are then not understood).
func CheckRegion(region string) error {
	if region == "" || phonenumbers.GetSupportedRegions()[strings.ToUpper(region)] {
		return nil
	}
	return fmt.Errorf("%q is not a region code like DE, AT or CH", region)
}

// CanonicalNumber is a number in E.164 digits without the '+'
// ("49305550001"), read with region as the default for national forms;
// what is not a possible phone number (an extension, a SIP name) is
// NormalizeNumber's form. An extension without a leading '0' or '+'
// stays itself: "2003" is not read as a national number.
func CanonicalNumber(s, region string) string {
	legacy := NormalizeNumber(s)
	if n := parsePhone(s, legacy, region); n != nil {
		return strings.TrimPrefix(phonenumbers.Format(n, phonenumbers.E164), "+")
	}
	return legacy
}

// NumberForms are the forms a number may be stored under, canonical
// first: the E.164 digits, the same with the international prefix "00",
// the national digits ("0305550001") and NormalizeNumber's form of s as
// written. Records indexed before numbers were canonical hold only the
// last, which a lookup in any form still matches. Empty for an empty s.
func NumberForms(s, region string) []string {
	legacy := NormalizeNumber(s)
	if legacy == "" {
		return nil
	}
	out := []string{legacy}
	if n := parsePhone(s, legacy, region); n != nil {
		e164 := strings.TrimPrefix(phonenumbers.Format(n, phonenumbers.E164), "+")
		out = []string{e164, "00" + e164}
		if nat := digitsOnly(phonenumbers.Format(n, phonenumbers.NATIONAL)); nat != "" {
			out = append(out, nat)
		}
		out = append(out, legacy)
	}
	seen := map[string]bool{}
	keep := out[:0]
	for _, f := range out {
		if !seen[f] {
			seen[f] = true
			keep = append(keep, f)
		}
	}
	return keep
}

// parsePhone reads a number written with a '+', an international prefix
// "00" or a national prefix '0' (legacy is NormalizeNumber(s)); nil when
// it is not a possible number in region.
func parsePhone(s, legacy, region string) *phonenumbers.PhoneNumber {
	if legacy == "" || len(legacy) > 20 || !isDigits(legacy) {
		return nil
	}
	t := strings.TrimSpace(s)
	region = strings.ToUpper(region)
	switch {
	case strings.HasPrefix(t, "+"):
		region = "ZZ"
	case strings.HasPrefix(legacy, "00"):
		t, region = "+"+legacy[2:], "ZZ"
	case strings.HasPrefix(legacy, "0") && region != "":
	default:
		// No prefix: an international number written without its '+'
		// (as NormalizeNumber stored "+49..."), or an extension. Read it
		// as international when that is a valid number.
		if len(legacy) < 8 {
			return nil
		}
		t, region = "+"+legacy, "ZZ"
		n, err := phonenumbers.Parse(t, region)
		if err != nil || !phonenumbers.IsValidNumber(n) {
			return nil
		}
		return n
	}
	n, err := phonenumbers.Parse(t, region)
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return nil
	}
	return n
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Call directions relative to a branch.
const (
	DirInbound  = "inbound"
	DirOutbound = "outbound"
	DirInternal = "internal"
	DirExternal = "external" // neither side is one of the branch's extensions
)

// DirectionOf is a call's direction from the SIP user parts of its
// caller and callee and the branch's extension patterns: internal when
// both are extensions, outbound when the caller is, inbound when the
// callee is, external otherwise. Box (capture/calls) and archive decide
// it with this one function.
func DirectionOf(fromUser, toUser string, extensions []string) string {
	local := func(u string) bool {
		for _, p := range extensions {
			if MatchPattern(p, u) {
				return true
			}
		}
		return false
	}
	from, to := local(fromUser), local(toUser)
	switch {
	case from && to:
		return DirInternal
	case from:
		return DirOutbound
	case to:
		return DirInbound
	}
	return DirExternal
}
