package sevsnp_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// milan is the Trustee Milan VCEK sample (report version 2), the base of
// the mutation and freshness tests.
type sample struct {
	raw    []byte
	report *sevsnp.Report
	vcek   []byte
	at     time.Time
	dir    string
}

func milanSample(t testing.TB) sample {
	t.Helper()
	dir := testutil.CorpusDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "snp/trustee/milan-vcek-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	vcek, err := os.ReadFile(filepath.Join(dir, "snp/trustee/milan-vcek.der"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := sevsnp.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return sample{raw: raw, report: r, vcek: vcek, at: time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC), dir: dir}
}

func verifyBytes(t *testing.T, raw, vcek []byte, o sevsnp.Options) ([]attest.Check, error) {
	t.Helper()
	r, err := sevsnp.Parse(raw)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(vcek)
	if err != nil {
		return nil, err
	}
	o.Certificates = append(o.Certificates, c)
	_, checks, err := sevsnp.Verify(t.Context(), r, o)
	return checks, err
}

// TestReportByteFlips flips every byte of a real report. Every flip must
// be rejected: inside the signed region by the signature (or by an earlier
// check that reads the flipped field: the signing key, product or TCB),
// elsewhere by the must-be-zero rules or the signature itself.
func TestReportByteFlips(t *testing.T) {
	s := milanSample(t)
	at := func() time.Time { return s.at }
	if _, err := verifyBytes(t, s.raw, s.vcek, sevsnp.Options{Now: at}); err != nil {
		t.Fatalf("unmodified report: %v", err)
	}
	for i := range s.raw {
		b := bytes.Clone(s.raw)
		b[i] ^= 0xFF
		checks, err := verifyBytes(t, b, s.vcek, sevsnp.Options{Now: at})
		if err == nil {
			t.Errorf("byte %#x flipped: accepted", i)
			continue
		}
		kinds := []error{sevsnp.ErrMalformed, sevsnp.ErrSignature, sevsnp.ErrTCB, sevsnp.ErrChain, sevsnp.ErrCollateralMissing}
		known := false
		for _, k := range kinds {
			known = known || errors.Is(err, k)
		}
		if !known {
			t.Errorf("byte %#x flipped: error of no known kind: %v", i, err)
		}
		// Inside the signed region, once the report parses and the VEK is
		// found, the signature check itself must fail.
		if i < sevsnp.SignedSize && !errors.Is(err, sevsnp.ErrMalformed) && !errors.Is(err, sevsnp.ErrCollateralMissing) {
			if ok, ran := checkResult(checks, "signature"); ran && ok {
				t.Errorf("byte %#x flipped: signature check passed", i)
			}
		}
	}
}

// TestVCEKByteFlips flips every byte of the VCEK: each copy must fail to
// parse or fail verification.
func TestVCEKByteFlips(t *testing.T) {
	s := milanSample(t)
	for i := range s.vcek {
		b := bytes.Clone(s.vcek)
		b[i] ^= 0xFF
		if _, err := verifyBytes(t, s.raw, b, sevsnp.Options{Now: func() time.Time { return s.at }}); err == nil {
			t.Errorf("VCEK byte %#x flipped: accepted", i)
		}
	}
}

func checkResult(checks []attest.Check, name string) (ok, ran bool) {
	for _, c := range checks {
		if c.Name == name {
			return c.OK && !c.Skipped, true
		}
	}
	return false, false
}

func TestNonce(t *testing.T) {
	s := milanSample(t)
	rd := s.report.ReportData
	tests := []struct {
		name    string
		nonce   []byte
		wantErr error
		wantOK  bool
	}{
		{"absent", nil, nil, true},
		{"exact-64", rd[:], nil, true},
		{"prefix-zero-padded", rd[:32], nil, true},
		{"wrong", bytes.Repeat([]byte{1}, 32), sevsnp.ErrNonce, false},
		{"too-long", make([]byte, 65), sevsnp.ErrNonce, false},
		{"prefix-of-nonzero", rd[:16], sevsnp.ErrNonce, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks, err := verifyBytes(t, s.raw, s.vcek, sevsnp.Options{Now: func() time.Time { return s.at }, Nonce: tc.nonce})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			ok, ran := checkResult(checks, "nonce")
			if !ran {
				t.Fatal("no nonce check in the result")
			}
			if tc.nonce == nil {
				for _, c := range checks {
					if c.Name == "nonce" && !c.Skipped {
						t.Error("absent nonce: check not marked skipped")
					}
				}
				return
			}
			if ok != tc.wantOK {
				t.Errorf("nonce check ok=%v, want %v", ok, tc.wantOK)
			}
		})
	}
}

func TestVerificationTime(t *testing.T) {
	s := milanSample(t)
	vcek, _ := x509.ParseCertificate(s.vcek)
	tests := []struct {
		name string
		at   time.Time
		want error
	}{
		{"inside", s.at, nil},
		{"before-vcek", vcek.NotBefore.Add(-time.Hour), sevsnp.ErrChain},
		{"after-vcek", vcek.NotAfter.Add(time.Hour), sevsnp.ErrChain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks, err := verifyBytes(t, s.raw, s.vcek, sevsnp.Options{Now: func() time.Time { return tc.at }})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				if ok, _ := checkResult(checks, "chain.vek"); ok {
					t.Error("chain.vek passed outside the VCEK's validity")
				}
			}
		})
	}
}

// TestRealCRL checks revocation with AMD's real CRLs: valid inside their
// window, refused outside it.
func TestRealCRL(t *testing.T) {
	s := milanSample(t)
	der, err := os.ReadFile(filepath.Join(s.dir, "roots/amd/milan_vcek_crl.der"))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   time.Time
		want error
	}{
		{"inside-window", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), nil},
		{"issued-after-verification-time", s.at, nil},
		{"after-next-update", crl.NextUpdate.Add(time.Hour), sevsnp.ErrRevoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks, err := verifyBytes(t, s.raw, s.vcek, sevsnp.Options{Now: func() time.Time { return tc.at }, CRLs: []*x509.RevocationList{crl}})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			ok, ran := checkResult(checks, "crl")
			if !ran || ok != (tc.want == nil) {
				t.Errorf("crl check ok=%v ran=%v", ok, ran)
			}
		})
	}
	// A CRL from another product's ARK is not used (and says so).
	gder, err := os.ReadFile(filepath.Join(s.dir, "roots/amd/genoa_vcek_crl.der"))
	if err != nil {
		t.Fatal(err)
	}
	gcrl, _ := x509.ParseRevocationList(gder)
	checks, err := verifyBytes(t, s.raw, s.vcek, sevsnp.Options{Now: func() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) }, CRLs: []*x509.RevocationList{gcrl}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Name == "crl" && !c.Skipped {
			t.Errorf("Genoa CRL used for a Milan chain: %+v", c)
		}
	}
}

// synthetic builds a report signed by a test PKI.
type synthetic struct {
	pki    *testutil.AMDPKI
	vek    testutil.VEK
	report *sevsnp.Report
	opts   sevsnp.Options
}

func newSynthetic(t *testing.T, p sevsnp.Product, vlek bool, edit func(*sevsnp.Report)) synthetic {
	t.Helper()
	pki := testutil.NewAMDPKI(t, p, vlek)
	var fmc *uint8
	if p == sevsnp.Turin {
		f := uint8(1)
		fmc = &f
	}
	tcb := sevsnp.TCB{Bootloader: 9, TEE: 0, SNP: 23, Microcode: 72, FMC: fmc}
	raw, err := sevsnp.EncodeTCB(p, tcb)
	if err != nil {
		t.Fatal(err)
	}
	r := &sevsnp.Report{
		Version: 3, Policy: 0x30000, SignatureAlgo: 1,
		CurrentTCB: raw, ReportedTCB: raw, CommittedTCB: raw, LaunchTCB: raw,
		CPUIDFamID: 0x19, CPUIDModID: 0x01, CPUIDStep: 1,
	}
	switch p {
	case sevsnp.Genoa:
		r.CPUIDModID = 0x11
	case sevsnp.Turin:
		r.Version, r.CPUIDFamID, r.CPUIDModID = 5, 0x1A, 0x02
	}
	hwid := bytes.Repeat([]byte{0xC5}, 64)
	if p == sevsnp.Turin {
		hwid = hwid[:8]
	}
	copy(r.ChipID[:], hwid)
	copy(r.Measurement[:], bytes.Repeat([]byte{0xAB}, 48))
	if vlek {
		r.KeyInfo = sevsnp.SigningKeyVLEK << 2
		r.ChipID = [64]byte{}
	}
	if edit != nil {
		edit(r)
	}
	vek := pki.IssueVEK(t, testutil.VEKOptions{HWID: hwid, CSPID: "test-cloud", TCB: tcb})
	raw2 := testutil.SignReport(t, r, vek.Key)
	parsed, err := sevsnp.Parse(raw2)
	if err != nil {
		t.Fatal(err)
	}
	return synthetic{pki: pki, vek: vek, report: parsed, opts: sevsnp.Options{
		Roots:        []*x509.Certificate{pki.ARK},
		Certificates: []*x509.Certificate{vek.Cert, pki.ASK},
		Now:          func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) },
	}}
}

func TestSynthetic(t *testing.T) {
	tests := []struct {
		name      string
		product   sevsnp.Product
		vlek      bool
		edit      func(*sevsnp.Report)
		opts      func(*synthetic)
		want      error
		failCheck string
	}{
		{name: "milan-vcek-v3", product: sevsnp.Milan},
		{name: "genoa-vcek-v3", product: sevsnp.Genoa},
		{name: "turin-vcek-v5-fmc", product: sevsnp.Turin},
		{name: "milan-vlek", product: sevsnp.Milan, vlek: true},
		{name: "genoa-vlek", product: sevsnp.Genoa, vlek: true},
		{name: "v2-no-cpuid", product: sevsnp.Milan, edit: func(r *sevsnp.Report) { r.Version, r.CPUIDFamID, r.CPUIDModID, r.CPUIDStep = 2, 0, 0, 0 }},
		{name: "v4", product: sevsnp.Genoa, edit: func(r *sevsnp.Report) { r.Version = 4 }},
		{name: "unknown-cpu-model-uses-certificate", product: sevsnp.Genoa, edit: func(r *sevsnp.Report) { r.CPUIDModID = 0x70 }},
		{name: "masked-chip-id", product: sevsnp.Milan, edit: func(r *sevsnp.Report) { r.ChipID = [64]byte{}; r.KeyInfo |= 2 }},
		{
			name: "embedded-roots-do-not-trust-test-ark", product: sevsnp.Milan,
			opts: func(s *synthetic) { s.opts.Roots = nil }, want: sevsnp.ErrChain, failCheck: "chain.ark",
		},
		{
			name: "revoked-ask", product: sevsnp.Milan,
			opts: func(s *synthetic) {
				now := s.opts.Now()
				s.opts.CRLs = []*x509.RevocationList{s.pki.CRL(t, now.Add(-time.Hour), now.Add(time.Hour), s.pki.ASK.SerialNumber)}
			},
			want: sevsnp.ErrRevoked, failCheck: "crl",
		},
		{
			name: "crl-revoking-another-serial", product: sevsnp.Milan,
			opts: func(s *synthetic) {
				now := s.opts.Now()
				s.opts.CRLs = []*x509.RevocationList{s.pki.CRL(t, now.Add(-time.Hour), now.Add(time.Hour), big.NewInt(0x20001))}
			},
		},
		{
			name: "cpuid-product-disagrees-with-vcek", product: sevsnp.Milan,
			edit: func(r *sevsnp.Report) { r.CPUIDModID = 0x11 }, want: sevsnp.ErrChain, failCheck: "product",
		},
		{
			name: "chip-id-mismatch", product: sevsnp.Milan,
			edit: func(r *sevsnp.Report) { r.ChipID[3] ^= 1 }, want: sevsnp.ErrTCB, failCheck: "vek.hwid",
		},
		{
			name: "reported-tcb-mismatch", product: sevsnp.Milan,
			edit: func(r *sevsnp.Report) { r.ReportedTCB++ }, want: sevsnp.ErrTCB, failCheck: "vek.tcb",
		},
		{
			name: "unsigned-report", product: sevsnp.Milan,
			edit: func(r *sevsnp.Report) { r.KeyInfo = sevsnp.SigningKeyNone << 2 }, want: sevsnp.ErrSignature, failCheck: "signer",
		},
		{
			name: "vlek-report-without-vlek", product: sevsnp.Milan, vlek: true,
			opts: func(s *synthetic) { s.opts.Certificates = []*x509.Certificate{s.pki.ASK} }, want: sevsnp.ErrCollateralMissing, failCheck: "chain.vek",
		},
		{
			name: "vek-expired", product: sevsnp.Milan,
			opts: func(s *synthetic) {
				s.opts.Now = func() time.Time { return time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC) }
			},
			want: sevsnp.ErrChain,
		},
		{
			name: "missing-intermediate", product: sevsnp.Milan,
			opts: func(s *synthetic) { s.opts.Certificates = []*x509.Certificate{s.vek.Cert} }, want: sevsnp.ErrCollateralMissing, failCheck: "chain.ask",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSynthetic(t, tc.product, tc.vlek, tc.edit)
			if tc.opts != nil {
				tc.opts(&s)
			}
			ver, checks, err := sevsnp.Verify(t.Context(), s.report, s.opts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v\n%v", err, checks)
				}
				if ver.Claims == nil || ver.Claims.Product != tc.product.String() {
					t.Fatalf("claims %+v, want product %s", ver.Claims, tc.product)
				}
				if tc.vlek && (ver.Claims.Signer != "vlek" || ver.Claims.CSPID != "test-cloud") {
					t.Errorf("signer %q csp %q", ver.Claims.Signer, ver.Claims.CSPID)
				}
				if tc.product == sevsnp.Turin && (ver.Claims.ReportedTCB.FMC == nil || *ver.Claims.ReportedTCB.FMC != 1) {
					t.Errorf("Turin FMC not decoded: %+v", ver.Claims.ReportedTCB)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v\n%v", err, tc.want, checks)
			}
			if ver.Claims != nil {
				t.Error("claims returned for a rejected report")
			}
			if tc.failCheck != "" && failedCheck(checks) != tc.failCheck {
				t.Errorf("first failed check %q, want %q\n%v", failedCheck(checks), tc.failCheck, checks)
			}
		})
	}
}

// TestReportSignedByWrongKey: a report signed by another VCEK of the same
// PKI fails the signature check.
func TestReportSignedByWrongKey(t *testing.T) {
	s := newSynthetic(t, sevsnp.Genoa, false, nil)
	other := s.pki.IssueVEK(t, testutil.VEKOptions{HWID: s.report.ChipID[:], TCB: mustTCB(t, sevsnp.Genoa, s.report.ReportedTCB)})
	r := *s.report
	raw := testutil.SignReport(t, &r, other.Key)
	parsed, _ := sevsnp.Parse(raw)
	_, checks, err := sevsnp.Verify(t.Context(), parsed, s.opts)
	if !errors.Is(err, sevsnp.ErrSignature) || failedCheck(checks) != "signature" {
		t.Fatalf("err = %v, failed %q", err, failedCheck(checks))
	}
}

func mustTCB(t *testing.T, p sevsnp.Product, v uint64) sevsnp.TCB {
	t.Helper()
	tcb, err := sevsnp.DecodeTCB(p, v)
	if err != nil {
		t.Fatal(err)
	}
	return tcb
}

func TestPolicy(t *testing.T) {
	one := uint32(1)
	tests := []struct {
		name   string
		policy uint64
		vmpl   uint32
		p      sevsnp.Policy
		fail   []string
	}{
		{"default", 0x30000, 0, sevsnp.Policy{}, nil},
		{"debug", 0xB0000, 0, sevsnp.Policy{}, []string{"policy.debug"}},
		{"debug-allowed", 0xB0000, 0, sevsnp.Policy{AllowDebug: true}, nil},
		{"migrate-ma", 0x70000, 0, sevsnp.Policy{}, []string{"policy.migrate_ma"}},
		{"reserved-bit", 0x30000 | 1<<40, 0, sevsnp.Policy{}, []string{"policy.reserved_bits"}},
		{"vmpl-over-max", 0x30000, 2, sevsnp.Policy{MaxVMPL: &one}, []string{"policy.vmpl"}},
		{"vmpl-within-max", 0x30000, 1, sevsnp.Policy{MaxVMPL: &one}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &sevsnp.Claims{Policy: sevsnp.DecodePolicy(tc.policy), VMPL: tc.vmpl}
			var failed []string
			for _, ch := range tc.p.Apply(c) {
				if !ch.OK {
					failed = append(failed, ch.Name)
				}
			}
			if len(failed) != len(tc.fail) || (len(failed) > 0 && failed[0] != tc.fail[0]) {
				t.Errorf("failed %v, want %v", failed, tc.fail)
			}
		})
	}
}

// TestCacheWarm: with a cache, a second verification is still a full
// verification of the report (a bad signature is still caught).
func TestCacheWarm(t *testing.T) {
	s := milanSample(t)
	cache := &sevsnp.Cache{}
	o := sevsnp.Options{Now: func() time.Time { return s.at }, Cache: cache}
	for i := 0; i < 2; i++ {
		if _, err := verifyBytes(t, s.raw, s.vcek, o); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	b := bytes.Clone(s.raw)
	b[0x90] ^= 1 // MEASUREMENT
	if _, err := verifyBytes(t, b, s.vcek, o); !errors.Is(err, sevsnp.ErrSignature) {
		t.Fatalf("warm cache, tampered report: %v", err)
	}
	o.Now = func() time.Time { return time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) }
	if _, err := verifyBytes(t, s.raw, s.vcek, o); !errors.Is(err, sevsnp.ErrChain) {
		t.Fatalf("warm cache, expired VCEK: %v", err)
	}
}
