package cca_test

import (
	"testing"

	"github.com/veraison/ccatoken"
	ccaplatform "github.com/veraison/ccatoken/platform"
	ccarealm "github.com/veraison/ccatoken/realm"

	"github.com/assay-dev/assay/verifier/cca"
)

// TestDifferentialCCAToken checks Verify against ccatoken's own
// Evidence.Verify, which runs the same three checks (platform signature,
// realm signature, binding) as one: on the corpus tokens with their CPAKs,
// and on synthetic tokens each broken in one way, both must agree.
func TestDifferentialCCAToken(t *testing.T) {
	type tc struct {
		name  string
		token []byte
		ends  []cca.Endorsement
	}
	var cases []tc
	for _, c := range ccaCorpus(t) {
		cases = append(cases, tc{c.id, readFile(t, c.token), endorsementsOf(t, c.collateral)})
	}
	good := buildToken(t, true, nil, nil)
	unbound := buildToken(t, true, func(p ccaplatform.IClaims, _ ccarealm.IClaims) {
		if err := p.SetNonce(make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
	}, nil)
	wrongRAK := buildToken(t, true, nil, mustKey(t))
	for name, s := range map[string]synth{"synthetic-good": good, "synthetic-unbound": unbound, "synthetic-wrong-rak": wrongRAK} {
		cases = append(cases, tc{name, s.token, []cca.Endorsement{{Key: s.cpak, Source: name, Format: cca.FormatPEMKey}}})
	}
	// A corpus token with a key that is not its CPAK.
	cases = append(cases, tc{"tf-rmm-wrong-cpak", readFile(t, "testdata/tf-rmm-cca-token.cbor"), []cca.Endorsement{{Key: good.cpak, Source: "other", Format: cca.FormatPEMKey}}})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := cca.Parse(c.token)
			if err != nil {
				t.Fatal(err)
			}
			_, _, ours := cca.Verify(tok, cca.Options{Endorsements: c.ends, Now: at(verifyAt)})
			ev, err := ccatoken.DecodeAndValidateEvidenceFromCBOR(c.token)
			if err != nil {
				t.Fatal(err)
			}
			// ccatoken takes one key; give it the one Verify would try first
			// (every case here has one).
			theirs := ev.Verify(c.ends[0].Key)
			if (ours == nil) != (theirs == nil) {
				t.Errorf("Verify: %v; ccatoken Evidence.Verify: %v", ours, theirs)
			}
		})
	}
}
