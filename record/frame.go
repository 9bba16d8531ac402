package record

// Dir is the direction of one packet within a call. It is stored as a
// byte in every sealed frame and, as its String, in Entry.Streams.
type Dir uint8

// Packet directions. A is the caller (sender of the initial INVITE).
const (
	AtoB Dir = iota // caller to callee
	BtoA            // callee to caller
)

func (d Dir) String() string {
	if d == AtoB {
		return "caller->callee"
	}
	return "callee->caller"
}

// Kind says what a recorded frame carries. It is stored as a byte in
// every sealed frame.
type Kind uint8

// Frame kinds.
const (
	KindSIP Kind = iota + 1
	KindRTP
	KindRTCP
)
