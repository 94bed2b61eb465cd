package cca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/veraison/ccatoken"
	ccaplatform "github.com/veraison/ccatoken/platform"
	ccarealm "github.com/veraison/ccatoken/realm"
	cose "github.com/veraison/go-cose"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/cca"
)

// Synthetic tokens cover what the corpus does not: states the simulators
// never produced (a lifecycle that is not secured, a broken binding). They
// are built with ccatoken from the TF-RMM token's claims and signed with
// keys made here; nothing trusts those keys unless a test supplies them.

type synth struct {
	token []byte
	cpak  *ecdsa.PublicKey
}

// buildToken re-signs the TF-RMM token's claims with a fresh CPAK and RAK
// after edit changes them. With bind, the platform challenge is recomputed
// from the new RAK (ccatoken's SetClaims); edit runs after that, so it can
// break the binding. signRealm, when not nil, signs the realm token in
// place of the RAK.
func buildToken(t *testing.T, bind bool, edit func(p ccaplatform.IClaims, r ccarealm.IClaims), signRealm *ecdsa.PrivateKey) synth {
	t.Helper()
	ev, err := ccatoken.DecodeEvidenceFromCBOR(readFile(t, "testdata/tf-rmm-cca-token.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	cpak, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rak, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rak.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.RealmClaims.SetPubKey(raw); err != nil {
		t.Fatal(err)
	}
	var out ccatoken.Evidence
	if bind {
		if err := out.SetClaims(ev.PlatformClaims, ev.RealmClaims); err != nil {
			t.Fatal(err)
		}
	} else {
		out.SetUnvalidatedClaims(ev.PlatformClaims, ev.RealmClaims)
	}
	if edit != nil {
		edit(out.PlatformClaims, out.RealmClaims)
	}
	if signRealm == nil {
		signRealm = rak
	}
	ps, err := cose.NewSigner(cose.AlgorithmES384, cpak)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cose.NewSigner(cose.AlgorithmES384, signRealm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := out.Sign(ps, rs)
	if err != nil {
		t.Fatal(err)
	}
	return synth{token: b, cpak: &cpak.PublicKey}
}

func (s synth) appraise(t *testing.T, v *cca.Verifier) *attest.Result {
	t.Helper()
	return v.Appraise(t.Context(), attest.Bundle{
		Evidence: s.token,
		Name:     "synthetic.cbor",
		Other:    []attest.NamedBlob{{Name: "cpak.pub", Data: pemKey(t, s.cpak)}},
	}, attest.Params{Now: verifyAt})
}

func (s synth) verify(t *testing.T) ([]attest.Check, error) {
	t.Helper()
	tok, err := cca.Parse(s.token)
	if err != nil {
		t.Fatal(err)
	}
	_, checks, err := cca.Verify(tok, cca.Options{
		Endorsements: []cca.Endorsement{{Key: s.cpak, Source: "cpak.pub", Format: cca.FormatPEMKey}},
		Now:          at(verifyAt),
	})
	return checks, err
}

func TestSyntheticGood(t *testing.T) {
	s := buildToken(t, true, nil, nil)
	if r := s.appraise(t, &cca.Verifier{}); r.Status != attest.StatusAffirming {
		t.Fatalf("status %s, first failure %+v", r.Status, firstFailure(r))
	}
}

func TestLifecyclePolicy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lifecycle uint16
		strict    bool
		want      attest.Status
	}{
		{"secured-0x3000", 0x3000, false, attest.StatusAffirming},
		{"secured-0x30ff", 0x30ff, true, attest.StatusAffirming},
		{"assembly-and-test", 0x1000, false, attest.StatusWarning},
		{"rot-provisioning", 0x2001, false, attest.StatusWarning},
		{"non-cca-debug", 0x4000, false, attest.StatusWarning},
		{"recoverable-debug", 0x5000, false, attest.StatusWarning},
		{"decommissioned", 0x6000, false, attest.StatusWarning},
		{"unknown", 0x0000, false, attest.StatusWarning},
		{"debug-strict", 0x4000, true, attest.StatusContraindicated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := buildToken(t, true, func(p ccaplatform.IClaims, _ ccarealm.IClaims) {
				if err := p.SetSecurityLifeCycle(tc.lifecycle); err != nil {
					t.Fatal(err)
				}
			}, nil)
			r := s.appraise(t, &cca.Verifier{Policy: cca.Policy{RequireSecured: tc.strict}})
			if r.Status != tc.want {
				t.Fatalf("status %s, want %s; checks %+v", r.Status, tc.want, r.Checks)
			}
			last := r.Checks[len(r.Checks)-1]
			if last.Name != "platform.lifecycle" {
				t.Fatalf("last check %q, want platform.lifecycle", last.Name)
			}
			if tc.want == attest.StatusWarning && (last.OK || last.Severity != attest.StatusWarning) {
				t.Errorf("lifecycle check %+v, want a warning", last)
			}
		})
	}
}

func TestBindingMismatch(t *testing.T) {
	s := buildToken(t, true, func(p ccaplatform.IClaims, _ ccarealm.IClaims) {
		other := make([]byte, 32)
		if err := p.SetNonce(other); err != nil {
			t.Fatal(err)
		}
	}, nil)
	checks, err := s.verify(t)
	if !errors.Is(err, cca.ErrBinding) || !failed(checks, "binding") {
		t.Fatalf("Verify: %v, want ErrBinding at binding; checks %+v", err, checks)
	}
	if failed(checks, "realm.signature") || failed(checks, "platform.signature") {
		t.Errorf("signatures should verify, only the binding is broken: %+v", checks)
	}
	if r := s.appraise(t, &cca.Verifier{}); r.Status != attest.StatusContraindicated {
		t.Errorf("status %s, want contraindicated", r.Status)
	}
}

func TestUnknownRAKHash(t *testing.T) {
	s := buildToken(t, false, func(p ccaplatform.IClaims, r ccarealm.IClaims) {
		if err := r.SetPubKeyHashAlgID("sha-1"); err != nil {
			t.Fatal(err)
		}
		if err := p.SetNonce(make([]byte, 32)); err != nil {
			t.Fatal(err)
		}
	}, nil)
	checks, err := s.verify(t)
	if !errors.Is(err, cca.ErrBinding) || !failed(checks, "binding") {
		t.Fatalf("Verify: %v, want ErrBinding", err)
	}
}

// A realm token signed by a key other than the RAK it carries.
func TestRealmSignedByAnotherKey(t *testing.T) {
	other, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := buildToken(t, true, nil, other)
	checks, err := s.verify(t)
	if !errors.Is(err, cca.ErrSignature) || !failed(checks, "realm.signature") {
		t.Fatalf("Verify: %v, want ErrSignature at realm.signature", err)
	}
	if failed(checks, "platform.signature") || failed(checks, "binding") {
		t.Errorf("only the realm signature is wrong: %+v", checks)
	}
}

func TestPolicyApply(t *testing.T) {
	c := &cca.Claims{}
	c.Platform.Lifecycle = 0x5000
	got := cca.Policy{}.Apply(c)
	if len(got) != 1 || got[0].OK || got[0].Severity != attest.StatusWarning {
		t.Errorf("default policy on 0x5000: %+v, want one warning", got)
	}
	got = cca.Policy{RequireSecured: true}.Apply(c)
	if len(got) != 1 || got[0].OK || got[0].Severity != attest.StatusContraindicated {
		t.Errorf("strict policy on 0x5000: %+v, want one failure", got)
	}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
