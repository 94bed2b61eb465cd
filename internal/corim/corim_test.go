package corim_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/assay-dev/assay/internal/corim"
	"github.com/assay-dev/assay/internal/corim/corimtest"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPlatformCoRIM(t *testing.T) {
	c, err := corim.Parse(read(t, "veraison-e2e-cca-endorsements.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "0000000000000001cca6000000000001" || c.Profile != "http://arm.com/cca/ssd/1" {
		t.Errorf("id %q profile %q", c.ID, c.Profile)
	}
	if want := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC); !c.NotAfter.Equal(want) {
		t.Errorf("not-after %s, want %s", c.NotAfter, want)
	}
	if len(c.CoMIDs) != 2 {
		t.Fatalf("%d CoMIDs, want 2", len(c.CoMIDs))
	}
	m := c.CoMIDs[0]
	if m.TagID != "43bbe37f2e614b33aed353cff1428b16" || len(m.Reference) != 1 {
		t.Fatalf("CoMID 0: tag %q, %d reference triples", m.TagID, len(m.Reference))
	}
	rt := m.Reference[0]
	env := rt.Environment
	if env.ClassIDTag != corim.TagImplID || !bytes.Equal(env.ClassID, make([]byte, 32)) || env.Vendor != "ACME" || env.Model != "RoadRunner" {
		t.Errorf("environment %+v", env)
	}
	var labels []string
	for _, ms := range rt.Measurements[:4] {
		if ms.KeyTag != corim.TagPSARefValID || ms.Component == nil || len(ms.Digests) != 1 || ms.Digests[0].Alg != 1 || len(ms.Digests[0].Value) != 32 {
			t.Fatalf("measurement %+v", ms)
		}
		labels = append(labels, ms.Component.Label+"@"+ms.Component.Version)
	}
	if got := strings.Join(labels, " "); got != "BL@3.4.2 M1@1.2.0 M2@1.2.3 M3@1.0.0" {
		t.Errorf("components %s", got)
	}
	if hex.EncodeToString(rt.Measurements[0].Digests[0].Value) != "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918" {
		t.Errorf("BL digest %x", rt.Measurements[0].Digests[0].Value)
	}
	cfg := rt.Measurements[4]
	if cfg.KeyTag != corim.TagCCAConfigID || cfg.KeyText != "cfg v1.0.0" || !bytes.Equal(cfg.RawValue, []byte{1, 2, 3}) {
		t.Errorf("config measurement %+v", cfg)
	}
	ak := c.CoMIDs[1].AttestKeys
	if len(ak) != 1 || ak[0].Environment.InstanceTag != corim.TagUEID || len(ak[0].Environment.Instance) != 33 || len(ak[0].Keys) != 1 {
		t.Fatalf("attest-key triples %+v", ak)
	}
	k, err := corim.PublicKey(ak[0].Keys[0])
	if err != nil || k == nil {
		t.Fatalf("CPAK: %v %v", k, err)
	}
}

func TestRealmCoRIM(t *testing.T) {
	c, err := corim.Parse(read(t, "veraison-e2e-cca-realm-endorsements.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != "http://arm.com/cca/realm/1" || len(c.CoMIDs) != 1 || len(c.CoMIDs[0].Reference) != 1 {
		t.Fatalf("%+v", c)
	}
	rt := c.CoMIDs[0].Reference[0]
	rim := bytes.Repeat([]byte{0x43}, 64)
	if rt.Environment.InstanceTag != corim.TagBytes || !bytes.Equal(rt.Environment.Instance, rim) {
		t.Errorf("instance %d %x", rt.Environment.InstanceTag, rt.Environment.Instance)
	}
	ms := rt.Measurements[0]
	if !bytes.Equal(ms.RawValue, bytes.Repeat([]byte{0x41, 0x44}, 32)) {
		t.Errorf("raw value %x", ms.RawValue)
	}
	for _, r := range []string{"rim", "rem0", "rem1", "rem2", "rem3"} {
		d := ms.IntegrityRegisters[r]
		if len(d) != 1 || d[0].Alg != 8 || !bytes.Equal(d[0].Value, rim) {
			t.Errorf("register %s: %+v", r, d)
		}
	}
}

func signerKey(t testing.TB) crypto.PublicKey {
	t.Helper()
	blk, _ := pem.Decode(read(t, "signed-corim-test-signer.pub"))
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSigned: the signed seed verifies with its key; every byte flipped
// is refused, as malformed or as a bad signature.
func TestSigned(t *testing.T) {
	b := read(t, "signed-veraison-e2e-cca-endorsements.cbor")
	if !corim.SniffSigned(b) || corim.SniffUnsigned(b) {
		t.Fatal("sniff")
	}
	s, err := corim.ParseSigned(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Signer != "ACME Inc." || s.CoRIM.ID != "0000000000000001cca6000000000001" || s.NotAfter.Year() != 2035 {
		t.Errorf("signer %q id %q not-after %s", s.Signer, s.CoRIM.ID, s.NotAfter)
	}
	key := signerKey(t)
	if _, err := s.Verify([]crypto.PublicKey{key}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(nil); !errors.Is(err, corim.ErrSignature) {
		t.Errorf("no key: %v, want ErrSignature", err)
	}
	for i := range b {
		f := bytes.Clone(b)
		f[i] ^= 0x01
		s, err := corim.ParseSigned(f)
		if err == nil {
			_, err = s.Verify([]crypto.PublicKey{key})
		}
		if !errors.Is(err, corim.ErrMalformed) && !errors.Is(err, corim.ErrSignature) {
			t.Fatalf("byte %d flipped: %v, want ErrMalformed or ErrSignature", i, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	good := read(t, "veraison-e2e-cca-endorsements.cbor")
	for name, b := range map[string][]byte{
		"empty":        nil,
		"truncated":    good[:len(good)/2],
		"other-tag":    append([]byte{0xd9, 0x01, 0xf6}, good[3:]...),
		"not-cbor":     []byte("{}"),
		"trailing":     append(bytes.Clone(good), 0),
		"indefinite":   {0xd9, 0x01, 0xf5, 0xbf, 0xff},
		"no-not-after": {0xd9, 0x01, 0xf5, 0xa3, 0x00, 0x61, 0x78, 0x01, 0x80, 0x04, 0xa0},
	} {
		if _, err := corim.Parse(b); !errors.Is(err, corim.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if _, err := corim.ParseSigned(good); !errors.Is(err, corim.ErrMalformed) {
		t.Errorf("unsigned as signed: %v", err)
	}
}

// FuzzParse: no input panics either reader; what Parse accepts has
// well-formed triples (every measurement readable again by a second
// Parse, which gives the same).
//
//	go test -run XXX -fuzz '^FuzzParse$' -fuzztime 30s ./internal/corim/
func FuzzParse(f *testing.F) {
	for _, n := range []string{"veraison-e2e-cca-endorsements.cbor", "veraison-e2e-cca-realm-endorsements.cbor", "signed-veraison-e2e-cca-endorsements.cbor"} {
		f.Add(read(f, n))
	}
	signed, _ := corimtest.SignedExample(f)
	for _, b := range [][]byte{corimtest.SEVSNP(f), corimtest.ParsecTPM(f), corimtest.EnactTrust(f), signed} {
		f.Add(b)
	}
	// The Intel profile's CoMIDs, in a CoRIM naming the profile.
	for _, comid := range [][]byte{corimtest.TDXSEAM(f), corimtest.TDXQE(f), corimtest.TDXPCE(f), corimtest.IntelISVE(f)} {
		f.Add(wrapCoMID(f, comid, corimtest.IntelProfileOID))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := corim.Parse(b); err == nil {
			again, err := corim.Parse(b)
			if err != nil || len(again.CoMIDs) != len(c.CoMIDs) {
				t.Fatalf("second parse differs: %v", err)
			}
			for _, m := range c.CoMIDs {
				for _, a := range m.AttestKeys {
					for _, k := range a.Keys {
						_, _ = corim.PublicKey(k)
					}
				}
			}
		}
		if s, err := corim.ParseSigned(b); err == nil {
			_, _ = s.Verify(nil)
		}
	})
}

// wrapCoMID puts an untagged CoMID into an unsigned CoRIM of profile
// (an OID in content octets), as the Intel profile's published CoMIDs
// (corimtest.TDXSEAM and the others) come without one.
func wrapCoMID(t testing.TB, comid []byte, profileOID []byte) []byte {
	t.Helper()
	b, err := cbor.Marshal(cbor.Tag{Number: corim.TagUnsignedCoRIM, Content: map[int]any{
		0: "wrapped",
		1: []any{cbor.Tag{Number: corim.TagCoMID, Content: cbor.RawMessage(comid)}},
		3: cbor.Tag{Number: corim.TagOID, Content: profileOID},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSEVSNPCoRIM(t *testing.T) {
	c, err := corim.Parse(corimtest.SEVSNP(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != "tag:amd.com,2024:snp-corim-profile" || len(c.CoMIDs) != 2 || len(c.CoMIDs[0].Reference) != 1 || len(c.CoMIDs[1].AttestKeys) != 1 {
		t.Fatalf("%+v", c)
	}
	rt := c.CoMIDs[0].Reference[0]
	if oid, err := corim.OID(rt.Environment.ClassID); err != nil || oid != "1.3.6.1.4.1.3704.3.1" || rt.Environment.InstanceTag != corim.TagBytes || len(rt.Environment.Instance) != 48 {
		t.Errorf("environment %+v (OID %s, %v)", rt.Environment, oid, err)
	}
	byKey := map[uint64]corim.Measurement{}
	for _, m := range rt.Measurements {
		if m.KeyUint == nil {
			t.Fatalf("measurement without uint mkey: %+v", m)
		}
		byKey[*m.KeyUint] = m
	}
	if len(byKey) != 18 {
		t.Errorf("%d mkeys, want 18", len(byKey))
	}
	if m := byKey[641]; len(m.Digests) != 1 || m.Digests[0].Alg != 7 || hex.EncodeToString(m.Digests[0].Value) != "7699e6ac12ccdfd1dfac70e649ce1f046cb2afbb003438f4cdddfe2ccbe182fa5ffbe8dcdb930454324e10c52c788980" {
		t.Errorf("MEASUREMENT %+v", m)
	}
	if m := byKey[3328]; len(m.RawValue) != 64 || m.KeyText != "3328" {
		t.Errorf("CHIP_ID %+v", m)
	}
	if m := byKey[1]; m.SVN == nil || !m.MinSVN || *m.SVN != 0 {
		t.Errorf("GUEST_SVN %+v", m)
	}
	if m := byKey[3330]; m.Version == nil || m.Version.Version != "1.55.8" || m.Version.Scheme != 16384 {
		t.Errorf("CurrentVersion %+v", m.Version)
	}
}

func TestParsecTPMCoRIM(t *testing.T) {
	c, err := corim.Parse(corimtest.ParsecTPM(t))
	if err != nil {
		t.Fatal(err)
	}
	rt := c.CoMIDs[0].Reference[0]
	if rt.Environment.ClassIDTag != corim.TagUUID || hex.EncodeToString(rt.Environment.ClassID) != "cd1f0e5526f9460db9d8f7fde171787c" {
		t.Errorf("class %+v", rt.Environment)
	}
	for i, m := range rt.Measurements {
		if m.KeyUint == nil || *m.KeyUint != uint64(i) || len(m.Digests) != 2 || m.Digests[0].Alg != 1 || m.Digests[1].Alg != 7 || len(m.Digests[1].Value) != 48 {
			t.Errorf("PCR %d: %+v", i, m)
		}
	}
}

func TestIntelCoMIDs(t *testing.T) {
	c, err := corim.Parse(wrapCoMID(t, corimtest.TDXSEAM(t), corimtest.IntelProfileOID))
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != corim.ProfileIntel {
		t.Fatalf("profile %q", c.Profile)
	}
	rt := c.CoMIDs[0].Reference[0]
	if oid, _ := corim.OID(rt.Environment.ClassID); oid != "2.16.840.1.113741.1.2.3.4.3" || rt.Environment.Model != "TDX SEAM" {
		t.Errorf("environment %+v", rt.Environment)
	}
	iv := rt.Measurements[0].Intel
	if iv == nil || iv.MrTee == nil || len(iv.MrTee.Digests) != 1 || iv.MrTee.Exclude || iv.MrSigner == nil || len(iv.MrSigner.Digests) != 2 ||
		iv.MrSigner.Digests[1].Alg != 8 || !bytes.Equal(iv.ISVProdIDBytes, []byte{0xab, 0xcd}) || iv.ISVSVN == nil || *iv.ISVSVN != (corim.Numeric{Op: corim.OpGe, Value: 6}) {
		t.Fatalf("intel values %+v", iv)
	}
	if got := rt.Measurements[0].Unread; !slices.Equal(got, []int{-86, -82}) {
		t.Errorf("unread %v", got)
	}

	c, err = corim.Parse(wrapCoMID(t, corimtest.IntelISVE(t), corimtest.IntelProfileOID))
	if err != nil {
		t.Fatal(err)
	}
	m := c.CoMIDs[0]
	if len(m.Reference) != 1 || len(m.Reference[0].Measurements) != 3 || m.Other[1] != 1 {
		t.Fatalf("%+v", m)
	}
	iv = m.Reference[0].Measurements[0].Intel
	if iv == nil || iv.ISVProdID == nil || *iv.ISVProdID != 1 || iv.MrSigner == nil || len(iv.MrSigner.Digests) != 2 {
		t.Fatalf("isve %+v", iv)
	}
	if k := m.Reference[0].Measurements[1].KeyUint; k == nil || *k != 1 {
		t.Errorf("mkey %v", k)
	}

	// The same CoMID in a CoRIM of no profile: the negative keys are a
	// profile's, so none is interpreted.
	b, err := cbor.Marshal(cbor.Tag{Number: corim.TagUnsignedCoRIM, Content: map[int]any{0: "x", 1: []any{cbor.Tag{Number: corim.TagCoMID, Content: cbor.RawMessage(corimtest.TDXQE(t))}}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = corim.Parse(b); err != nil || c.CoMIDs[0].Reference[0].Measurements[0].Intel != nil {
		t.Errorf("no profile: %v", err)
	}
}

func TestSignedExampleUUIDKeys(t *testing.T) {
	b, key := corimtest.SignedExample(t)
	s, err := corim.ParseSigned(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Signer != "ACME Ltd signing key" {
		t.Errorf("signer %q", s.Signer)
	}
	if _, err := s.Verify([]crypto.PublicKey{key}); err != nil {
		t.Errorf("signed at test time, does not verify: %v", err)
	}
	for _, m := range s.CoRIM.CoMIDs[0].Reference[0].Measurements {
		if m.KeyTag != corim.TagUUID || m.KeyText != "31fb5abf-023e-4992-aa4e-95f9c1503bfa" || !slices.Equal(m.Unread, []int{-1}) {
			t.Errorf("%+v", m)
		}
	}
}

func TestOID(t *testing.T) {
	for _, tc := range []struct {
		name, hex, want string
	}{
		{"intel-profile", "6086480186f84d011001", "2.16.840.1.113741.1.16.1"},
		{"amd-by-chip", "2b060104019c780301", "1.3.6.1.4.1.3704.3.1"},
		{"amd-by-chip-with-der-header", "06092b060104019c780301", "1.3.6.1.4.1.3704.3.1"},
		{"first-arc-0", "0203", "0.2.3"},
	} {
		b, _ := hex.DecodeString(tc.hex)
		if got, err := corim.OID(b); err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "2b8001", "2b86"} {
		b, _ := hex.DecodeString(bad)
		if got, err := corim.OID(b); err == nil {
			t.Errorf("%q: %q, want an error", bad, got)
		}
	}
}

// TestMalformedMeasurements: shapes the profiles use, written wrong, are
// refused with ErrMalformed.
func TestMalformedMeasurements(t *testing.T) {
	env := map[int]any{0: map[int]any{1: "ACME"}}
	corimOf := func(profile any, mval map[int]any, mkey any) []byte {
		m := map[int]any{1: mval}
		if mkey != nil {
			m[0] = mkey
		}
		comid := map[int]any{1: map[int]any{0: "t"}, 4: map[int]any{0: []any{[]any{env, []any{m}}}}}
		top := map[int]any{0: "c", 1: []any{cbor.Tag{Number: corim.TagCoMID, Content: comid}}}
		if profile != nil {
			top[3] = profile
		}
		b, err := cbor.Marshal(cbor.Tag{Number: corim.TagUnsignedCoRIM, Content: top})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	intel := cbor.Tag{Number: corim.TagOID, Content: corimtest.IntelProfileOID}
	for name, b := range map[string][]byte{
		"uuid-mkey-short":     corimOf(nil, map[int]any{2: []any{[]any{1, []byte{1}}}}, cbor.Tag{Number: corim.TagUUID, Content: []byte{1, 2}}),
		"mkey-negative":       corimOf(nil, map[int]any{2: []any{[]any{1, []byte{1}}}}, -1),
		"digest-alg-unknown":  corimOf(nil, map[int]any{2: []any{[]any{"md5", []byte{1}}}}, 0),
		"raw-value-untagged":  corimOf(nil, map[int]any{4: []byte{1}}, 0),
		"raw-value-mask-1":    corimOf(nil, map[int]any{4: cbor.Tag{Number: corim.TagMaskedRawValue, Content: []any{[]byte{1}}}}, 0),
		"version-no-version":  corimOf(nil, map[int]any{0: map[int]any{1: 4}}, 0),
		"profile-two":         corimOf([]any{"a", "b"}, map[int]any{2: []any{[]any{1, []byte{1}}}}, 0),
		"intel-mrtee-tag":     corimOf(intel, map[int]any{-83: cbor.Tag{Number: 60010, Content: []any{2, 1}}}, nil),
		"intel-mrtee-op":      corimOf(intel, map[int]any{-83: cbor.Tag{Number: 60020, Content: []any{2, []any{}}}}, nil),
		"intel-isvsvn-op":     corimOf(intel, map[int]any{-73: cbor.Tag{Number: 60010, Content: []any{6, 1}}}, nil),
		"intel-isvsvn-text":   corimOf(intel, map[int]any{-73: "6"}, nil),
		"intel-isvprodid-neg": corimOf(intel, map[int]any{-85: -1}, nil),
	} {
		if _, err := corim.Parse(b); !errors.Is(err, corim.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// The same keys outside the Intel profile are not read, so not refused.
	if _, err := corim.Parse(corimOf(nil, map[int]any{-73: "6"}, nil)); err != nil {
		t.Errorf("-73 without the Intel profile: %v", err)
	}
}
