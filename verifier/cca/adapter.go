package cca

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"time"

	"github.com/assay-dev/assay/attest"
)

// Coverage of a verified CCA token: what the RMM and the platform root of
// trust measured and signed, and what is left to the endorsement and to
// policy.
var Coverage = attest.Coverage{
	Proves: []string{
		"the realm token was signed by the realm attestation key (RAK) it carries, and the platform token's challenge is the hash of that RAK: the platform that signed the platform token vouched for this realm token",
		"the platform token was signed by the CCA platform attestation key (CPAK) of a supplied endorsement (PEM or JWK key, Trustee tastore.json, or the attest-key triple of a CoRIM, unsigned or signed with a supplied key) that names this platform's instance and implementation IDs, or names none",
		"RIM (initial_measurement): the realm's initial contents and configuration as the RMM measured them at creation; REM[0..3] (extensible_measurements) as the realm had extended them when it asked for the token; the personalization value given at creation",
		"challenge: the 64 bytes the realm asked to be signed, which bind a nonce or a key to this realm",
		"the platform's claims as its root of trust reported them: the measured software components (firmware, RMM), config, lifecycle state, implementation and instance IDs",
	},
	DoesNotProve: []string{
		"that the platform is genuine Arm CCA hardware: the CPAK is only as trustworthy as the endorsement supplied with it, no silicon vendor root is built in, and real_hardware stays null. Every CCA token in this project's corpus (TF-RMM/TF-A, Trustee and Veraison samples) comes from a simulator (Arm FVP) or is synthetic, signed with test keys whose private halves are public",
		"that the measurements are the expected ones: reference values (Trustee rvstore.json, CoRIM reference-value triples) are recognised but not compared; that is policy",
		"what the realm ran after it last extended a REM, or anything about the host, the normal world or other realms",
		"that the CPAK has not been revoked: no revocation source is consulted",
		"freshness, unless a nonce was given and matched the realm challenge",
	},
}

// Verifier appraises CCA tokens for package verifier's registry.
type Verifier struct {
	// Policy is the built-in appraisal policy; the zero value is the
	// default (a lifecycle that is not secured is a warning).
	Policy Policy
	// Endorsements, when OperatorEndorsementsOnly is set, are the only
	// CPAK sources: the bundle's endorsements are ignored. A service sets
	// it, since there the bundle is the attester's, and an attester that
	// supplies its own CPAK vouches for itself.
	Endorsements             []Endorsement
	OperatorEndorsementsOnly bool
}

// Kind implements attest.Verifier.
func (*Verifier) Kind() string { return "cca" }

// Formats lists the evidence formats.
func (*Verifier) Formats() []string { return []string{FormatToken, FormatTokenCMW} }

// Sniff implements attest.Verifier.
func (*Verifier) Sniff(b []byte) (string, bool) {
	f := sniffForm(b)
	return f, f != ""
}

// SniffCollateral recognises CPAK sources (PEM or JWK public keys,
// Trustee's tastore.json, CoRIMs) and Trustee's rvstore.json.
func (*Verifier) SniffCollateral(b []byte) (string, bool) { return SniffCollateral(b) }

// Appraise implements attest.Verifier: parse, read the endorsements among
// the collateral, verify, then policy.
func (v *Verifier) Appraise(_ context.Context, b attest.Bundle, p attest.Params) *attest.Result {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	sum := sha256.Sum256(b.Evidence)
	res := &attest.Result{
		TEE:        "cca",
		VerifiedAt: now,
		Coverage:   Coverage,
		Evidence:   attest.EvidenceInfo{Format: FormatToken, SHA256: hex.EncodeToString(sum[:])},
	}
	defer res.Finish()
	t, err := Parse(b.Evidence)
	if err != nil {
		res.Checks = append(res.Checks, attest.Fail("parse", err))
		return res
	}
	c := NewClaims(t)
	palg, _ := t.platformMsg.Headers.Protected.Algorithm()
	ralg, _ := t.realmMsg.Headers.Protected.Algorithm()
	res.Evidence.Format = t.Format
	res.Checks = append(res.Checks, attest.Pass("parse", "%s: platform token (profile %s, %s) and realm token (%s, %s, measurements %s), claims well-formed", t.Format, c.Platform.Profile, palg, realmProfileName(c), ralg, c.Realm.HashAlgoID))
	// What the token states, marked by the status as unverified until
	// Verify returns.
	res.Claims = c

	// Every CPAK source among the collateral is a candidate; Bundle.Other
	// also holds other TEEs' collateral, which SniffCollateral passes over.
	// A bare PEM or JWK key that is no CPAK (an RSA TPM AK) may be another
	// verifier's and is passed over too; a broken CCA store or CoRIM is a
	// failure, named.
	ends := append([]Endorsement(nil), v.Endorsements...)
	for _, o := range b.Other {
		if v.OperatorEndorsementsOnly {
			break
		}
		if _, ok := SniffCollateral(o.Data); !ok {
			continue
		}
		es, format, err := ParseEndorsements(o.Data, o.Name)
		if err != nil {
			if format == FormatPEMKey || format == FormatJWK {
				continue
			}
			res.Checks = append(res.Checks, attest.Fail("platform.endorsement", err))
			return res
		}
		ends = append(ends, es...)
	}
	claims, checks, err := Verify(t, Options{Endorsements: ends, Now: func() time.Time { return now }, Nonce: p.Nonce, CoRIMKeys: coRIMKeys(b)})
	res.Checks = append(res.Checks, checks...)
	if err != nil {
		return res
	}
	res.Claims = claims
	res.Checks = append(res.Checks, v.Policy.Apply(claims)...)
	return res
}

// coRIMKeys are the keys a signed CoRIM may verify with: every public key
// given beside the evidence, as a certificate, a PEM PUBLIC KEY (of any
// type: CoRIMs are signed with RSA and EdDSA too) or an EC JWK. They are
// keys the operator supplied; none is chained to anything.
func coRIMKeys(b attest.Bundle) []crypto.PublicKey {
	var keys []crypto.PublicKey
	for _, c := range b.Certificates {
		keys = append(keys, c.PublicKey)
	}
	for _, o := range b.Other {
		format, ok := SniffCollateral(o.Data)
		if !ok {
			continue
		}
		switch format {
		case FormatPEMKey:
			for rest := o.Data; ; {
				var blk *pem.Block
				blk, rest = pem.Decode(rest)
				if blk == nil {
					break
				}
				if blk.Type != "PUBLIC KEY" {
					continue
				}
				if k, err := x509.ParsePKIXPublicKey(blk.Bytes); err == nil {
					keys = append(keys, k)
				}
			}
		case FormatJWK:
			if es, err := parseJWKFile(o.Data); err == nil {
				for _, e := range es {
					keys = append(keys, e.Key)
				}
			}
		}
	}
	return keys
}

func realmProfileName(c *Claims) string {
	if c.Realm.Profile == nil {
		return "no realm profile"
	}
	return "profile " + *c.Realm.Profile
}

// Inspect describes a CCA token or a CPAK source without judging it.
func (*Verifier) Inspect(b []byte, format string) (any, error) {
	if f, ok := SniffCollateral(b); ok && format != FormatToken && format != FormatTokenCMW {
		ends, _, err := ParseEndorsements(b, "input")
		if err != nil {
			return nil, err
		}
		type key struct {
			Curve            string `json:"curve"`
			SPKISHA256       string `json:"spki_sha256"`
			ImplementationID string `json:"implementation_id,omitempty"`
			InstanceID       string `json:"instance_id,omitempty"`
			NotBefore        string `json:"not_before,omitempty"`
			NotAfter         string `json:"not_after,omitempty"`
			Unusable         string `json:"unusable,omitempty"`
			// CoRIMSigner: the signer a signed CoRIM names (its
			// signature is not checked here).
			CoRIMSigner string `json:"corim_signer,omitempty"`
		}
		keys := []key{}
		for _, e := range ends {
			c := e.claims()
			k := key{Curve: c.Curve, SPKISHA256: c.SPKISHA256, ImplementationID: hex.EncodeToString(e.ImplementationID), InstanceID: hex.EncodeToString(e.InstanceID), Unusable: e.unbindable, CoRIMSigner: c.CoRIMSigner}
			if !e.NotBefore.IsZero() {
				k.NotBefore = e.NotBefore.UTC().Format(time.RFC3339)
			}
			if !e.NotAfter.IsZero() {
				k.NotAfter = e.NotAfter.UTC().Format(time.RFC3339)
			}
			keys = append(keys, k)
		}
		return map[string]any{"format": f, "cpaks": keys}, nil
	}
	t, err := Parse(b)
	if err != nil {
		return nil, err
	}
	return map[string]any{"format": t.Format, "claims": NewClaims(t)}, nil
}
