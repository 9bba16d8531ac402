package access_test

import (
	"crypto/tls"
	"strings"
	"testing"
)

// TestAccessNegotiatesHybridKEX (issue 25): a client that offers it gets
// the hybrid post-quantum key exchange X25519MLKEM768 from the access
// service (read from the connection's state); one that does not still
// gets a classical one (browsers without it).
func TestAccessNegotiatesHybridKEX(t *testing.T) {
	e := newEnv(t, nil)
	host := strings.TrimPrefix(e.web, "https://")
	for _, c := range []struct {
		offer []tls.CurveID
		want  tls.CurveID
	}{{nil, tls.X25519MLKEM768}, {[]tls.CurveID{tls.X25519}, tls.X25519}} {
		conn, err := tls.Dial("tcp", host, &tls.Config{RootCAs: e.pool, ServerName: "localhost", CurvePreferences: c.offer})
		if err != nil {
			t.Fatal(err)
		}
		st := conn.ConnectionState()
		conn.Close()
		if st.CurveID != c.want {
			t.Fatalf("client offering %v: access TLS negotiated %v, want %v", c.offer, st.CurveID, c.want)
		}
	}
}
