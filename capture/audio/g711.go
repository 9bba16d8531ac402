package audio

// ALawToLinear decodes one G.711 A-law sample (ITU-T G.711, table 1a).
func ALawToLinear(a byte) int16 {
	a ^= 0x55
	t := int16(a&0x0f) << 4
	seg := (a & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return t
	}
	return -t
}

// ULawToLinear decodes one G.711 u-law sample (ITU-T G.711, table 2a).
func ULawToLinear(u byte) int16 {
	u = ^u
	t := (int16(u&0x0f) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return 0x84 - t
	}
	return t - 0x84
}

var alawTable, ulawTable [256]int16

func init() {
	for i := 0; i < 256; i++ {
		alawTable[i] = ALawToLinear(byte(i))
		ulawTable[i] = ULawToLinear(byte(i))
	}
}

// DecodeALaw appends the PCM samples of an A-law payload to dst.
func DecodeALaw(dst []int16, p []byte) []int16 {
	for _, b := range p {
		dst = append(dst, alawTable[b])
	}
	return dst
}

// DecodeULaw appends the PCM samples of a u-law payload to dst.
func DecodeULaw(dst []int16, p []byte) []int16 {
	for _, b := range p {
		dst = append(dst, ulawTable[b])
	}
	return dst
}
