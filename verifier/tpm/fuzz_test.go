package tpm_test

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	pb "github.com/google/go-tpm-tools/proto/attest"
	tpmpb "github.com/google/go-tpm-tools/proto/tpm"
	"github.com/google/go-tpm/tpm2"
	"google.golang.org/protobuf/proto"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// FuzzParse feeds every parser of the package (evidence containers,
// TPMT_SIGNATURE, the tpm2-tools PCR file, AK publics) one input: none may
// panic, and what parses re-encodes to a stable value.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*"))
	for _, p := range files {
		if filepath.Base(p) == "README.md" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(attestationSeed(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		tpm.SniffEvidence(b)
		tpm.SniffCollateral(b)
		if ev, err := tpm.ParseEvidence(b, ""); err == nil {
			for _, q := range ev.Quotes {
				if !bytes.Equal(tpm2.Marshal(*q.Attest), q.Raw) {
					t.Fatalf("TPMS_ATTEST does not re-encode to its bytes")
				}
				if _, err := tpm.ParseAttest(q.Raw); err != nil {
					t.Fatalf("quote re-parse: %v", err)
				}
			}
			_ = tpm.NewClaims(ev, nil, nil)
		}
		if s, err := tpm.ParseSignature(b); err == nil {
			if !bytes.Equal(tpm2.Marshal(*s), b) {
				t.Fatalf("TPMT_SIGNATURE does not re-encode to its bytes")
			}
		}
		if p, err := tpm.ParsePCRFile(b); err == nil {
			p2, err := tpm.ParsePCRFile(tpm.MarshalPCRFile(p))
			if err != nil {
				t.Fatalf("PCR file re-parse: %v", err)
			}
			if !reflect.DeepEqual(p.Values, p2.Values) {
				t.Fatalf("PCR file values changed in a round trip")
			}
		}
		if ak, err := tpm.ParseAKPublic(b); err == nil && ak.Public != nil {
			ak2, err := tpm.ParseAKPublic(tpm2.Marshal(*ak.Public))
			if err != nil || !bytes.Equal(ak2.Name, ak.Name) {
				t.Fatalf("AK public re-parse: %v", err)
			}
		}
	})
}

// attestationSeed wraps the swtpm quote of testdata in a go-tpm-tools
// Attestation, as go-tpm-tools' client would (TPMT_PUBLIC, one quote per
// bank with its PCR values).
func attestationSeed(f *testing.F) []byte {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "swtpm-rsa", name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	pcrs, err := tpm.ParsePCRFile(read("quote.pcrs"))
	if err != nil {
		f.Fatal(err)
	}
	vals := map[uint32][]byte{}
	for i, v := range pcrs.Values[tpm2.TPMAlgSHA256] {
		vals[uint32(i)] = v
	}
	b, err := proto.Marshal(&pb.Attestation{
		AkPub:  read("ak.tpm2b")[2:],
		Quotes: []*tpmpb.Quote{{Quote: read("quote.msg"), RawSig: read("quote.sig"), Pcrs: &tpmpb.PCRs{Hash: tpmpb.HashAlgo_SHA256, Pcrs: vals}}},
	})
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzParseEKSAN: ParseEKSAN never panics, fails only with ErrMalformed
// or ErrEKProfile, and what it reads survives MarshalEKSAN. Seeded with
// the subjectAltName of every EK certificate of the corpus and with
// generated ones.
func FuzzParseEKSAN(f *testing.F) {
	for _, name := range []string{"ek-certs/intel-ptt-spth-ek-rsa.pem", "gce/uca_tpm_rsa_enc_cert.pem", "gce/uca_tpm_ecc_enc_cert.pem"} {
		b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(f), "tpm", name))
		if err != nil {
			f.Fatal(err)
		}
		c, err := tpm.ParseEKCertificate(b)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range c.Extensions {
			if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
				f.Add(e.Value)
			}
		}
	}
	f.Add(tpm.MarshalEKSAN(&tpm.TPMIdentity{Manufacturer: "id:4E544300", Model: "NPCT75x", Version: "id:00070002"}))
	f.Add(dnsOnlySAN(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := tpm.ParseEKSAN(b)
		if err != nil {
			if !errors.Is(err, tpm.ErrMalformed) && !errors.Is(err, tpm.ErrEKProfile) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrEKProfile", err)
			}
			return
		}
		_, _ = id.VendorID()
		again, err := tpm.ParseEKSAN(tpm.MarshalEKSAN(id))
		if err != nil || *again != *id {
			t.Fatalf("round trip: %+v, %v; was %+v", again, err, id)
		}
	})
}
