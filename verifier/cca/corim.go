package cca

import (
	"crypto/ecdsa"
	"fmt"
	"time"

	"github.com/assay-dev/assay/internal/corim"
)

// CoRIMs are read by internal/corim (shared with assay policy
// import-corim; its doc says why not github.com/veraison/corim). Here:
// the CPAKs of their attest-key triples, bound to the implementation ID
// (class-id, PSA/CCA profile tag 600) and instance ID (UEID, tag 550) the
// triple's environment names.

// parseCoRIM returns the CPAKs of an unsigned CoRIM's attest-key triples,
// limited to the CoRIM's validity.
func parseCoRIM(b []byte) ([]Endorsement, error) {
	c, err := corim.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: CoRIM: %w", ErrMalformed, err)
	}
	return coRIMEndorsements(c)
}

// coRIMEndorsements turns the attest-key triples of c into endorsements.
func coRIMEndorsements(c *corim.CoRIM) ([]Endorsement, error) {
	var out []Endorsement
	for i, m := range c.CoMIDs {
		for j, t := range m.AttestKeys {
			es, err := attestKeyTriple(t)
			if err != nil {
				return nil, fmt.Errorf("%w: CoRIM CoMID %d, attest-key triple %d: %v", ErrMalformed, i, j, err)
			}
			for _, e := range es {
				e.NotBefore, e.NotAfter = c.NotBefore, c.NotAfter
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// attestKeyTriple binds the keys of one attest-key triple to its
// environment.
func attestKeyTriple(t corim.AttestKeyTriple) ([]Endorsement, error) {
	env := t.Environment
	var proto Endorsement
	// Whatever the environment names and this reader cannot compare with
	// the token makes the key unusable rather than unbound: an endorsement
	// for a narrower environment must never apply to every platform.
	switch {
	case t.Conditions:
		proto.unbindable = "its attest-key triple has conditions this verifier does not evaluate"
	case env.HasGroup:
		proto.unbindable = "its environment names a group, which a CCA token does not carry"
	}
	if env.ClassID != nil {
		if err := sized(env.ClassIDTag, env.ClassID, corim.TagImplID, 32); err != nil {
			proto.unbindable = fmt.Sprintf("its class-id is not a CCA implementation ID: %v", err)
		}
		proto.ImplementationID = env.ClassID
	}
	if env.Instance != nil {
		if err := sized(env.InstanceTag, env.Instance, corim.TagUEID, 33); err != nil {
			proto.unbindable = fmt.Sprintf("its instance is not a UEID: %v", err)
		}
		proto.InstanceID = env.Instance
	}
	var out []Endorsement
	var skipped []uint64
	for _, k := range t.Keys {
		pub, err := corim.PublicKey(k)
		if err != nil {
			return nil, err
		}
		if pub == nil {
			skipped = append(skipped, k.Number)
			continue
		}
		ek, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("key (tag %d) is a %T; a CPAK is an ECDSA key", k.Number, pub)
		}
		e := proto
		e.Key = ek
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no key this verifier reads (CBOR tags %v; it reads %d, %d and %d)", skipped, corim.TagPKIXBase64Key, corim.TagPKIXBase64Cert, corim.TagCOSEKey)
	}
	return out, nil
}

// sized checks an identifier's tag and size.
func sized(tag uint64, b []byte, want uint64, size int) error {
	if tag != want {
		return fmt.Errorf("CBOR tag %d, want %d", tag, want)
	}
	if len(b) != size {
		return fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	return nil
}

func after(a, b time.Time) bool { return !a.IsZero() && (b.IsZero() || a.After(b)) }
