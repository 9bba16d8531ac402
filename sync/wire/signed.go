package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
)

// Signed documents (policy.go, update.go) are JSON signed with Ed25519
// over a context string and the JSON's bytes, so that a signature made
// for one kind of document is taken for no other.

// signJSON marshals v and signs context || JSON.
func signJSON(key ed25519.PrivateKey, context string, v any) (doc, sig []byte, err error) {
	doc, err = json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	return doc, ed25519.Sign(key, append([]byte(context), doc...)), nil
}

// verifyJSON checks sig over context || doc under pub (refusing a
// document over max bytes before the signature is checked) and decodes
// doc into v strictly: unknown fields and trailing data are refused.
// It returns errSignature when the signature does not verify; decoding
// errors are returned as they are.
func verifyJSON(pub ed25519.PublicKey, context string, doc, sig []byte, max int, v any) error {
	if len(doc) > max || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, append([]byte(context), doc...), sig) {
		return errSignature
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errTrailing
	}
	return nil
}

var (
	errSignature = errors.New("signature does not verify")
	errTrailing  = errors.New("trailing data")
)
