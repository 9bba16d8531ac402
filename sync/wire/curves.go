package wire

import "crypto/tls"

// KeyExchanges are the TLS key exchanges of the sync protocol, box and
// archive alike: the hybrid post-quantum X25519MLKEM768 (ML-KEM-768 with
// X25519) only. Both ends are this project's code, so nothing classical
// is offered or accepted: a recording in transit is as safe from a future
// quantum computer as one at rest (harvest now, decrypt later).
func KeyExchanges() []tls.CurveID { return []tls.CurveID{tls.X25519MLKEM768} }
