package access

import "crypto/tls"

// KeyExchanges are the access service's TLS key exchanges: the hybrid
// post-quantum X25519MLKEM768 first (every current browser offers it),
// classical X25519 and P-256 only for clients without it (and TLS 1.2).
func KeyExchanges() []tls.CurveID {
	return []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
}
