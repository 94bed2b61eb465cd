package token

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
)

// SignEncoded signs header.payload, both already base64url-encoded and
// taken as they are, with k (ES256), and returns the compact token. Tests
// use it to make tokens that Issue never would.
func SignEncoded(k *Key, header, payload string) string {
	input := header + "." + payload
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		panic(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

// SignJSON encodes header and payload (raw JSON) and signs them with k.
func SignJSON(k *Key, header, payload string) string {
	return SignEncoded(k, b64.EncodeToString([]byte(header)), b64.EncodeToString([]byte(payload)))
}
