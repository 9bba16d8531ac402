package client_test

import (
	"crypto/tls"
	"testing"
)

// TestSyncNegotiatesHybridKEX (issue 25): the box's TLS to the archive's
// ingest negotiates the hybrid post-quantum key exchange X25519MLKEM768,
// read from the connection's state with the box's own TLS configuration;
// a client offering only classical key exchanges is refused.
func TestSyncNegotiatesHybridKEX(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	conn, err := tls.Dial("tcp", e.addr, c.TLSConfig().Clone())
	if err != nil {
		t.Fatal(err)
	}
	st := conn.ConnectionState()
	conn.Close()
	if st.CurveID != tls.X25519MLKEM768 {
		t.Fatalf("sync TLS negotiated %v, want X25519MLKEM768", st.CurveID)
	}
	classical := c.TLSConfig().Clone()
	classical.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	if conn, err := tls.Dial("tcp", e.addr, classical); err == nil {
		st := conn.ConnectionState()
		conn.Close()
		t.Fatalf("a classical-only client was served (%v)", st.CurveID)
	}
}
