package cca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/corim"
)

// A signed CoRIM (internal/corim.Signed: COSE_Sign1, tag 18, content
// type application/rim+cbor) is used once its signature verifies with a
// key the caller supplies (Options.CoRIMKeys): no certificate in the COSE
// headers (x5chain) is trusted.

// FormatSignedCoRIM is a signed CoRIM (CBOR tag 18).
const FormatSignedCoRIM = "signed-corim"

// signedCoRIM is a parsed signed CoRIM and the file it came from. Its
// endorsements point to it and are not used until Verify has checked its
// signature.
type signedCoRIM struct {
	*corim.Signed
	source string
}

// parseSignedCoRIM decodes a signed CoRIM and the CPAKs of its payload.
// No crypto: the endorsements carry the message, and Verify checks it.
func parseSignedCoRIM(b []byte) ([]Endorsement, error) {
	sc, err := corim.ParseSigned(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	s := &signedCoRIM{Signed: sc}
	ends, err := coRIMEndorsements(sc.CoRIM)
	if err != nil {
		return nil, fmt.Errorf("signed CoRIM payload: %w", err)
	}
	for i := range ends {
		ends[i].signed = s
		// The key is endorsed only while both the CoRIM and its signature
		// are valid.
		if after(s.NotBefore, ends[i].NotBefore) {
			ends[i].NotBefore = s.NotBefore
		}
		if !s.NotAfter.IsZero() && (ends[i].NotAfter.IsZero() || s.NotAfter.Before(ends[i].NotAfter)) {
			ends[i].NotAfter = s.NotAfter
		}
	}
	return ends, nil
}

// verify checks the COSE_Sign1 signature with each key in turn and
// returns the first that verifies.
func (s *signedCoRIM) verify(keys []crypto.PublicKey) (crypto.PublicKey, error) {
	k, err := s.Verify(keys)
	if err != nil {
		return nil, fmt.Errorf("%w: the %s signature of the signed CoRIM %s (signer %q) verifies with none of the %d keys supplied for CoRIMs", ErrSignature, s.Alg, s.source, s.Signer, len(keys))
	}
	return k, nil
}

// verifySignedCoRIMs checks the signature of every signed CoRIM among
// ends, once each. It returns the endorsements that may be used (those of
// unsigned sources, and of signed CoRIMs whose signature verified), and
// the corim.signature check, nil when no signed CoRIM was supplied; err
// wraps ErrSignature when some signature verified with no key.
func verifySignedCoRIMs(ends []Endorsement, keys []crypto.PublicKey) ([]Endorsement, *attest.Check, error) {
	verified := map[*signedCoRIM]crypto.PublicKey{}
	var order []*signedCoRIM
	var failed []error
	for _, e := range ends {
		s := e.signed
		if s == nil {
			continue
		}
		if contains(order, s) {
			continue
		}
		order = append(order, s)
		if k, err := s.verify(keys); err != nil {
			failed = append(failed, err)
		} else {
			verified[s] = k
		}
	}
	if len(order) == 0 {
		return ends, nil, nil
	}
	usable := make([]Endorsement, 0, len(ends))
	for _, e := range ends {
		if e.signed == nil || verified[e.signed] != nil {
			usable = append(usable, e)
		}
	}
	if len(failed) > 0 {
		var msgs []string
		for _, err := range failed {
			msgs = append(msgs, err.Error())
		}
		err := fmt.Errorf("%w: %s", ErrSignature, strings.Join(msgs, "; "))
		c := attest.Fail("corim.signature", err)
		return usable, &c, err
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%s (signer %q) verifies %s with the supplied %s", s.source, s.Signer, s.Alg, keyName(verified[s])))
	}
	c := attest.Pass("corim.signature", "signed CoRIM %s: its CPAK endorsements may be used; the signing key is trusted only because it was supplied", strings.Join(parts, "; "))
	return usable, &c, nil
}

func contains(list []*signedCoRIM, s *signedCoRIM) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// keyName describes a public key by type and SubjectPublicKeyInfo hash.
func keyName(k crypto.PublicKey) string {
	kind := fmt.Sprintf("%T", k)
	switch v := k.(type) {
	case *ecdsa.PublicKey:
		kind = "ECDSA " + curveName(v)
	case *rsa.PublicKey:
		kind = fmt.Sprintf("RSA-%d", v.N.BitLen())
	case ed25519.PublicKey:
		kind = "Ed25519"
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return kind + " key"
	}
	sum := sha256.Sum256(der)
	return fmt.Sprintf("%s key (SPKI SHA-256 %s…)", kind, hex.EncodeToString(sum[:8]))
}
