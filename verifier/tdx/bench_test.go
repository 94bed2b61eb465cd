package tdx_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/internal/testutil"
)

type benchInput struct {
	raw  []byte
	opts dcap.Options
}

func loadBench(b *testing.B) benchInput {
	dir := testutil.CorpusDir(b)
	c := flipCases[0] // TDX v4, dcap-qvl, PCS-format collateral
	raw, err := os.ReadFile(filepath.Join(dir, c.quote))
	if err != nil {
		b.Fatal(err)
	}
	o := dcap.Options{Now: func() time.Time { return c.at }}
	for _, f := range c.files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		switch filepath.Ext(f) {
		case ".json":
			if ti, err := dcap.ParseTCBInfo(data); err == nil {
				o.TCBInfos = append(o.TCBInfos, ti)
			} else if qi, err := dcap.ParseQEIdentity(data); err == nil {
				o.QEIdentities = append(o.QEIdentities, qi)
			}
		case ".der":
			crl, err := parseCRL(data)
			if err != nil {
				b.Fatal(err)
			}
			o.CRLs = append(o.CRLs, crl)
		}
	}
	return benchInput{raw: raw, opts: o}
}

// BenchmarkP256Floor is the floor a warm verification is measured against:
// the two ECDSA P-256 verifications every quote needs (the quote signature
// by the attestation key, the QE report signature by the PCK key), with
// their SHA-256 digests.
func BenchmarkP256Floor(b *testing.B) {
	in := loadBench(b)
	q, err := dcap.ParseQuote(in.raw)
	if err != nil {
		b.Fatal(err)
	}
	chain, _ := q.PCKChain()
	pck := chain[0].PublicKey.(*ecdsa.PublicKey)
	ak, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.AttestationKey[:]...))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range []struct {
			key *ecdsa.PublicKey
			msg []byte
			sig [64]byte
		}{{ak, q.Signed(), q.Signature}, {pck, q.QEReport.Raw(), q.QEReportSignature}} {
			d := sha256.Sum256(v.msg)
			if !ecdsa.Verify(v.key, d[:], new(big.Int).SetBytes(v.sig[:32]), new(big.Int).SetBytes(v.sig[32:])) {
				b.Fatal("signature does not verify")
			}
		}
	}
}

// BenchmarkVerifyWarm: parse and verify a quote whose PCK chain, CRLs and
// collateral signatures were verified before (dcap.Cache), as a service.
func BenchmarkVerifyWarm(b *testing.B) {
	in := loadBench(b)
	o := in.opts
	o.Cache = &dcap.Cache{}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		q, err := dcap.ParseQuote(in.raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := dcap.Verify(ctx, q, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCold: the same with no cache: every certificate, CRL and
// collateral signature is verified (collateral JSON already parsed).
func BenchmarkVerifyCold(b *testing.B) {
	in := loadBench(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		q, err := dcap.ParseQuote(in.raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := dcap.Verify(ctx, q, in.opts); err != nil {
			b.Fatal(err)
		}
	}
}

func parseCRL(b []byte) (*x509.RevocationList, error) { return x509.ParseRevocationList(b) }
