package evidence

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// CMS (RFC 5652) leaves fields of a SignedData outside what the signer
// signs: its version, the set of digest algorithms, the certificates
// and CRLs, a signer's version and unsigned attributes. A CMS parser
// (and the one the RFC 3161 checker uses, which also reads BER) ignores
// most of them, so a byte changed there leaves a valid token. strictToken
// accepts only the one shape an RFC 3161 token has, in DER, with every
// such field holding the one value it may hold, so that no byte of a
// bundle's token can change without the check failing.

var (
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
)

type cmsContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type cmsEncap struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"optional,tag:0"` // [0] EXPLICIT OCTET STRING
}

type cmsSignedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo cmsEncap
	Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos      []cmsSignerInfo `asn1:"set"`
}

type cmsIssuerAndSerial struct {
	Issuer asn1.RawValue
	Serial asn1.RawValue
}

type cmsSignerInfo struct {
	Version            int
	SID                cmsIssuerAndSerial
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

// strictToken checks a token's shape and returns the certificates it
// carries, in order (the signer's first).
func strictToken(token []byte) ([]*x509.Certificate, error) {
	var ci cmsContentInfo
	if rest, err := asn1.Unmarshal(token, &ci); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("not one DER ContentInfo (%v, %d bytes after it)", err, len(rest))
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, errors.New("not a CMS SignedData")
	}
	var sd cmsSignedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("SignedData not DER (%v, %d bytes after it)", err, len(rest))
	}
	// Every field re-encodes to its bytes (DER, no field the structure
	// above does not name).
	if re, err := asn1.Marshal(ci); err != nil || !bytes.Equal(re, token) {
		return nil, errors.New("token is not in its DER encoding")
	}
	if re, err := asn1.Marshal(sd); err != nil || !bytes.Equal(re, ci.Content.Bytes) {
		return nil, errors.New("SignedData is not in its DER encoding")
	}
	switch {
	case sd.Version != 3:
		return nil, fmt.Errorf("SignedData version %d, an RFC 3161 token has 3", sd.Version)
	case !sd.EncapContentInfo.EContentType.Equal(oidTSTInfo):
		return nil, errors.New("the signed content is not a TSTInfo")
	case !octetString(sd.EncapContentInfo.EContent):
		return nil, errors.New("the signed content is not an OCTET STRING")
	case len(sd.CRLs.FullBytes) != 0:
		return nil, errors.New("token carries CRLs")
	case len(sd.SignerInfos) != 1:
		return nil, fmt.Errorf("%d signers, one expected", len(sd.SignerInfos))
	case len(sd.Certificates.FullBytes) == 0:
		return nil, errors.New("token carries no certificate")
	}
	si := sd.SignerInfos[0]
	switch {
	case si.Version != 1:
		return nil, fmt.Errorf("signer version %d, 1 expected (issuer and serial number)", si.Version)
	case len(si.UnsignedAttrs.FullBytes) != 0:
		return nil, errors.New("the signer carries unsigned attributes")
	case len(si.SignedAttrs.FullBytes) == 0:
		return nil, errors.New("the signer carries no signed attributes")
	case len(sd.DigestAlgorithms) != 1 || !sameAlg(sd.DigestAlgorithms[0], si.DigestAlgorithm):
		return nil, errors.New("the digest algorithms listed are not the signer's")
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	var issuer, serial []byte
	if len(certs) > 0 {
		issuer = certs[0].RawIssuer
		serial, _ = asn1.Marshal(certs[0].SerialNumber)
	}
	if !bytes.Equal(si.SID.Issuer.FullBytes, issuer) || !bytes.Equal(si.SID.Serial.FullBytes, serial) {
		return nil, errors.New("the signer is not the first certificate carried")
	}
	if err := checkSigner(certs[0], si, sd.EncapContentInfo.EContent); err != nil {
		return nil, err
	}
	return certs, nil
}

var (
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
)

type cmsAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue
}

// checkSigner verifies the signer's signature over its signed attributes
// exactly as carried (RFC 5652 5.4: their DER with the SET tag), and
// that they name the TSTInfo content type and its digest.
func checkSigner(cert *x509.Certificate, si cmsSignerInfo, econtent asn1.RawValue) error {
	var h crypto.Hash
	switch {
	case si.DigestAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}):
		h = crypto.SHA256
	case si.DigestAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}):
		h = crypto.SHA384
	case si.DigestAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}):
		h = crypto.SHA512
	default:
		return fmt.Errorf("signer digest algorithm %v (SHA-256, -384 or -512 expected)", si.DigestAlgorithm.Algorithm)
	}
	alg := sigAlg(cert, si.SignatureAlgorithm.Algorithm, h)
	if alg == x509.UnknownSignatureAlgorithm {
		return fmt.Errorf("signature algorithm %v does not fit the signer's %v key", si.SignatureAlgorithm.Algorithm, cert.PublicKeyAlgorithm)
	}
	var content asn1.RawValue
	if rest, err := asn1.Unmarshal(econtent.Bytes, &content); err != nil || len(rest) != 0 {
		return errors.New("encapsulated content is not one OCTET STRING")
	}
	d := h.New()
	d.Write(content.Bytes)
	want := d.Sum(nil)
	var gotType, gotDigest int
	rest := si.SignedAttrs.Bytes
	for len(rest) > 0 {
		var a cmsAttribute
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			return fmt.Errorf("signed attributes: %w", err)
		}
		if a.Values.Class != asn1.ClassUniversal || a.Values.Tag != asn1.TagSet || !a.Values.IsCompound {
			return errors.New("signed attribute values are not a SET")
		}
		switch {
		case a.Type.Equal(oidContentType):
			var o asn1.ObjectIdentifier
			if r, err := asn1.Unmarshal(a.Values.Bytes, &o); err != nil || len(r) != 0 || !o.Equal(oidTSTInfo) {
				return errors.New("signed content type is not TSTInfo")
			}
			gotType++
		case a.Type.Equal(oidMessageDigest):
			var m []byte
			if r, err := asn1.Unmarshal(a.Values.Bytes, &m); err != nil || len(r) != 0 || !bytes.Equal(m, want) {
				return errors.New("the signed message digest is not the TSTInfo's")
			}
			gotDigest++
		}
	}
	if gotType != 1 || gotDigest != 1 {
		return errors.New("signed attributes lack the content type or the message digest")
	}
	signed := append([]byte(nil), si.SignedAttrs.FullBytes...)
	signed[0] = 0x31 // SET OF, as signed
	if err := cert.CheckSignature(alg, signed, si.Signature); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}

func sameAlg(a, b pkix.AlgorithmIdentifier) bool {
	x, _ := asn1.Marshal(a)
	y, _ := asn1.Marshal(b)
	return bytes.Equal(x, y)
}

// sigAlg is the x509 signature algorithm a CMS signer's algorithm OID
// and digest stand for, for the certificate's key.
func sigAlg(c *x509.Certificate, oid asn1.ObjectIdentifier, h crypto.Hash) x509.SignatureAlgorithm {
	is := func(o ...int) bool { return oid.Equal(asn1.ObjectIdentifier(o)) }
	switch c.PublicKeyAlgorithm {
	case x509.ECDSA:
		switch {
		case is(1, 2, 840, 10045, 4, 3, 2) && h == crypto.SHA256:
			return x509.ECDSAWithSHA256
		case is(1, 2, 840, 10045, 4, 3, 3) && h == crypto.SHA384:
			return x509.ECDSAWithSHA384
		case is(1, 2, 840, 10045, 4, 3, 4) && h == crypto.SHA512:
			return x509.ECDSAWithSHA512
		}
	case x509.RSA:
		rsa := is(1, 2, 840, 113549, 1, 1, 1)
		switch {
		case (rsa || is(1, 2, 840, 113549, 1, 1, 11)) && h == crypto.SHA256:
			return x509.SHA256WithRSA
		case (rsa || is(1, 2, 840, 113549, 1, 1, 12)) && h == crypto.SHA384:
			return x509.SHA384WithRSA
		case (rsa || is(1, 2, 840, 113549, 1, 1, 13)) && h == crypto.SHA512:
			return x509.SHA512WithRSA
		}
	case x509.Ed25519:
		if is(1, 3, 101, 112) {
			return x509.PureEd25519
		}
	}
	return x509.UnknownSignatureAlgorithm
}

// octetString: v is [0] holding exactly one primitive OCTET STRING.
func octetString(v asn1.RawValue) bool {
	if v.Class != asn1.ClassContextSpecific || v.Tag != 0 || !v.IsCompound {
		return false
	}
	var in asn1.RawValue
	rest, err := asn1.Unmarshal(v.Bytes, &in)
	return err == nil && len(rest) == 0 && in.Class == asn1.ClassUniversal && in.Tag == asn1.TagOctetString && !in.IsCompound
}
