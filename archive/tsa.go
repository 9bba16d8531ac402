package archive

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"
)

// maxTSAReply bounds a time-stamping authority's reply.
const maxTSAReply = 1 << 20

// RFC3161 is a Timestamper that asks the time-stamping authority at url
// (RFC 3161 over HTTP: application/timestamp-query) for a token over the
// digest, with the authority's certificate in it, and checks the token
// names that digest before it is used.
func RFC3161(url string, client *http.Client) Timestamper {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return func(ctx context.Context, digest [32]byte) ([]byte, error) {
		req, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:], Certificates: true}).Marshal()
		if err != nil {
			return nil, err
		}
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
		if err != nil {
			return nil, err
		}
		hr.Header.Set("Content-Type", "application/timestamp-query")
		resp, err := client.Do(hr)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxTSAReply+1))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK || len(body) > maxTSAReply {
			return nil, fmt.Errorf("%s answered %s (%d bytes)", url, resp.Status, len(body))
		}
		ts, err := timestamp.ParseResponse(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", url, err)
		}
		if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, digest[:]) || len(ts.Certificates) == 0 {
			return nil, fmt.Errorf("%s: the token is not over the digest asked for, or carries no certificate", url)
		}
		return ts.RawToken, nil
	}
}
