package audio

// G722Decoder decodes G.722 at 64 kbit/s (ITU-T G.722, mode 1) into 16 kHz
// PCM. It follows the ITU reference algorithm block by block (the block
// names in comments are the recommendation's). One decoder per stream: it
// carries the adaptive predictor state from packet to packet.
type G722Decoder struct {
	band [2]g722Band
	x    [24]int
}

type g722Band struct {
	s, sp, sz int
	r, a, ap  [3]int
	p         [3]int
	d, b, bp  [7]int
	sg        [7]int
	nb, det   int
}

// NewG722Decoder returns a decoder in the reset state.
func NewG722Decoder() *G722Decoder {
	d := &G722Decoder{}
	d.band[0].det = 32
	d.band[1].det = 8
	return d
}

var (
	g722QMF  = [12]int{3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11}
	g722QM4  = [16]int{0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0}
	g722QM6  = [64]int{-136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136}
	g722ILB  = [32]int{2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008}
	g722WL   = [8]int{-60, -30, 58, 172, 334, 538, 1198, 3042}
	g722RL42 = [16]int{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}
	g722WH   = [3]int{0, -214, 798}
	g722RH2  = [4]int{2, 1, 2, 1}
	g722QM2  = [4]int{-7408, -1616, 7408, 1616}
)

func sat16(v int) int {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return v
}

func (s *g722Band) block4(d int) {
	// RECONS
	s.d[0] = d
	s.r[0] = sat16(s.s + d)
	// PARREC
	s.p[0] = sat16(s.sz + d)
	// UPPOL2
	for i := 0; i < 3; i++ {
		s.sg[i] = s.p[i] >> 15
	}
	wd1 := sat16(s.a[1] << 2)
	wd2 := wd1
	if s.sg[0] == s.sg[1] {
		wd2 = -wd1
	}
	if wd2 > 32767 {
		wd2 = 32767
	}
	wd3 := -128
	if s.sg[0] == s.sg[2] {
		wd3 = 128
	}
	wd3 += wd2 >> 7
	wd3 += (s.a[2] * 32512) >> 15
	if wd3 > 12288 {
		wd3 = 12288
	} else if wd3 < -12288 {
		wd3 = -12288
	}
	s.ap[2] = wd3
	// UPPOL1
	s.sg[0] = s.p[0] >> 15
	s.sg[1] = s.p[1] >> 15
	wd1 = -192
	if s.sg[0] == s.sg[1] {
		wd1 = 192
	}
	wd2 = (s.a[1] * 32640) >> 15
	s.ap[1] = sat16(wd1 + wd2)
	wd3 = sat16(15360 - s.ap[2])
	if s.ap[1] > wd3 {
		s.ap[1] = wd3
	} else if s.ap[1] < -wd3 {
		s.ap[1] = -wd3
	}
	// UPZERO
	wd1 = 128
	if d == 0 {
		wd1 = 0
	}
	s.sg[0] = d >> 15
	for i := 1; i < 7; i++ {
		s.sg[i] = s.d[i] >> 15
		wd2 = -wd1
		if s.sg[i] == s.sg[0] {
			wd2 = wd1
		}
		wd3 = (s.b[i] * 32640) >> 15
		s.bp[i] = sat16(wd2 + wd3)
	}
	// DELAYA
	for i := 6; i > 0; i-- {
		s.d[i] = s.d[i-1]
		s.b[i] = s.bp[i]
	}
	for i := 2; i > 0; i-- {
		s.r[i] = s.r[i-1]
		s.p[i] = s.p[i-1]
		s.a[i] = s.ap[i]
	}
	// FILTEP
	wd1 = sat16(s.r[1] + s.r[1])
	wd1 = (s.a[1] * wd1) >> 15
	wd2 = sat16(s.r[2] + s.r[2])
	wd2 = (s.a[2] * wd2) >> 15
	s.sp = sat16(wd1 + wd2)
	// FILTEZ
	s.sz = 0
	for i := 6; i > 0; i-- {
		wd1 = sat16(s.d[i] + s.d[i])
		s.sz += (s.b[i] * wd1) >> 15
	}
	s.sz = sat16(s.sz)
	// PREDIC
	s.s = sat16(s.sp + s.sz)
}

// Decode appends the PCM of a G.722 payload (two samples per byte) to dst.
func (g *G722Decoder) Decode(dst []int16, p []byte) []int16 {
	for _, code := range p {
		wd1 := int(code & 0x3f)
		ihigh := int(code>>6) & 0x03
		wd2 := g722QM6[wd1]
		wd1 >>= 2
		lo := &g.band[0]
		// INVQBL, RECONS, LIMIT
		wd2 = (lo.det * wd2) >> 15
		rlow := lo.s + wd2
		if rlow > 16383 {
			rlow = 16383
		} else if rlow < -16384 {
			rlow = -16384
		}
		// INVQAL
		wd2 = g722QM4[wd1]
		dlowt := (lo.det * wd2) >> 15
		// LOGSCL
		wd2 = g722RL42[wd1]
		wd1 = (lo.nb * 127) >> 7
		wd1 += g722WL[wd2]
		if wd1 < 0 {
			wd1 = 0
		} else if wd1 > 18432 {
			wd1 = 18432
		}
		lo.nb = wd1
		// SCALEL
		wd1 = (lo.nb >> 6) & 31
		wd2 = 8 - (lo.nb >> 11)
		var wd3 int
		if wd2 < 0 {
			wd3 = g722ILB[wd1] << -wd2
		} else {
			wd3 = g722ILB[wd1] >> wd2
		}
		lo.det = wd3 << 2
		lo.block4(dlowt)

		hi := &g.band[1]
		// INVQAH, RECONS, LIMIT
		wd2 = g722QM2[ihigh]
		dhigh := (hi.det * wd2) >> 15
		rhigh := dhigh + hi.s
		if rhigh > 16383 {
			rhigh = 16383
		} else if rhigh < -16384 {
			rhigh = -16384
		}
		// LOGSCH
		wd2 = g722RH2[ihigh]
		wd1 = (hi.nb * 127) >> 7
		wd1 += g722WH[wd2]
		if wd1 < 0 {
			wd1 = 0
		} else if wd1 > 22528 {
			wd1 = 22528
		}
		hi.nb = wd1
		// SCALEH
		wd1 = (hi.nb >> 6) & 31
		wd2 = 10 - (hi.nb >> 11)
		if wd2 < 0 {
			wd3 = g722ILB[wd1] << -wd2
		} else {
			wd3 = g722ILB[wd1] >> wd2
		}
		hi.det = wd3 << 2
		hi.block4(dhigh)

		// Receive QMF
		copy(g.x[:22], g.x[2:])
		g.x[22] = rlow + rhigh
		g.x[23] = rlow - rhigh
		xout1, xout2 := 0, 0
		for i := 0; i < 12; i++ {
			xout2 += g.x[2*i] * g722QMF[i]
			xout1 += g.x[2*i+1] * g722QMF[11-i]
		}
		dst = append(dst, int16(sat16(xout1>>11)), int16(sat16(xout2>>11)))
	}
	return dst
}
