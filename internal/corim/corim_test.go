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
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/internal/corim"
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
