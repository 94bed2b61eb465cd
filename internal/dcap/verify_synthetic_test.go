package dcap_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/internal/testutil"
)

// Verify against the synthetic Intel PKI of internal/testutil: quotes and
// collateral built field by field reach what no recorded quote shows
// (every TCB status, revocation, expired or foreign collateral, a wrong
// QE, TDX 1.5 module identities). The PKI's root is trusted only because
// each case passes it in Options.Roots.

// synthKind is the shape of a synthetic quote.
type synthKind int

const (
	synthSGXv3 synthKind = iota
	synthSGXv4
	synthSGXv5
	synthTDXv4
	synthTD10v5
	synthTD15v5
)

func (k synthKind) String() string {
	return [...]string{"sgx-v3", "sgx-v4", "sgx-v5", "tdx-v4", "td10-v5", "td15-v5"}[k]
}

func (k synthKind) tdx() bool { return k >= synthTDXv4 }

// The synthetic platform: FMSPC, SGX TCB components and PCESVN (in the
// PCK), TEE_TCB_SVN of a TDX 1.0 and of a TDX 1.5 module (major version 1,
// graded by tdxModuleIdentities "TDX_01").
var (
	synthFMSPC  = [6]byte{0x90, 0xC0, 0x6F, 0x00, 0x00, 0x00}
	synthSGX    = [16]uint8{3, 3, 2, 2, 4, 1, 0, 5}
	synthPCESVN = uint16(13)
	synthTEE10  = [16]byte{5, 0, 3}
	synthTEE15  = [16]byte{4, 1, 3}
)

// synthTCBInfo is a TCB info shaped like Intel's: an UpToDate level the
// platform matches exactly, then an OutOfDate one below it; for TDX a
// tdxModule and the "TDX_01" module identity (UpToDate at ISVSVN 4,
// OutOfDate at 2).
func synthTCBInfo(tdx bool) testutil.TCBInfoOptions {
	o := testutil.TCBInfoOptions{
		TDX:   tdx,
		FMSPC: synthFMSPC,
		Levels: []testutil.TCBLevel{
			{SGXComponents: synthSGX, PCESVN: synthPCESVN, TDXComponents: [16]uint8{5, 0, 3}, Status: "UpToDate"},
			{SGXComponents: [16]uint8{2, 2, 2, 2, 3, 1, 0, 3}, PCESVN: 11, TDXComponents: [16]uint8{3, 0, 2},
				Date: time.Date(2023, 8, 9, 0, 0, 0, 0, time.UTC), Status: "OutOfDate", Advisories: []string{"INTEL-SA-00837"}},
		},
	}
	if tdx {
		o.ModuleIdentities = []testutil.ModuleIdentity{{ID: "TDX_01", Levels: []testutil.IdentityLevel{
			{ISVSVN: 4},
			{ISVSVN: 2, Date: time.Date(2023, 8, 9, 0, 0, 0, 0, time.UTC), Status: "OutOfDate", Advisories: []string{"INTEL-SA-01036"}},
		}}}
	}
	return o
}

// synthEnv is one case's material, for the opts hook to rearrange.
type synthEnv struct {
	pki   *testutil.IntelPKI
	other *testutil.IntelPKI // a second, unrelated PKI
	pck   testutil.PCK       // the case's PCK, once issued
}

type synthCase struct {
	name  string
	kind  synthKind
	pck   func(*testutil.PCKOptions)
	quote func(*testutil.QuoteOptions)
	raw   func([]byte) // edits the finished quote
	tcb   func(*testutil.TCBInfoOptions)
	qe    func(*testutil.QEIdentityOptions)
	opts  func(*testing.T, *synthEnv, *dcap.Options)

	// check is the check the case is about, and want its outcome: "pass",
	// "warn" (failed with warning severity), "fail" (contraindicated) or
	// "skip". A failing check must be the first to fail; otherwise every
	// other check must pass, except those in alsoSkipped.
	check       string
	want        string
	alsoSkipped []string
	// wantErr is the kind Verify's error wraps; nil: no error.
	wantErr error
	// status and module, when set, are the converged TCB status and the
	// TDX module's.
	status dcap.TCBStatus
	module dcap.TCBStatus
}

// synthRun builds the case's quote and collateral and verifies. The quote
// is nil when it does not parse.
func synthRun(t *testing.T, env *synthEnv, c synthCase) (*dcap.Quote, *dcap.Verification, []attest.Check, error) {
	t.Helper()
	p, tdx := env.pki, c.kind.tdx()
	po := testutil.PCKOptions{FMSPC: synthFMSPC, SGXComponents: synthSGX, PCESVN: synthPCESVN}
	if c.pck != nil {
		c.pck(&po)
	}
	env.pck = p.IssuePCK(t, po)

	qo := testutil.QuoteOptions{PCK: env.pck, TDX: tdx}
	switch c.kind {
	case synthSGXv3:
		qo.Version = 3
	case synthSGXv4, synthTDXv4:
		qo.Version = 4
	case synthSGXv5, synthTD10v5:
		qo.Version = 5
	case synthTD15v5:
		qo.Version, qo.TD15 = 5, true
	}
	qo.TD.TEETCBSVN = synthTEE10
	if c.kind == synthTD15v5 {
		qo.TD.TEETCBSVN = synthTEE15
	}
	copy(qo.TD.ReportData[:], "synthetic TD nonce")
	copy(qo.SGX.ReportData[:], "synthetic enclave nonce")
	qo.TD.MRTD[0], qo.SGX.MREnclave[0] = 0x11, 0x22
	if c.quote != nil {
		c.quote(&qo)
	}
	raw := p.Quote(t, qo)
	if c.raw != nil {
		c.raw(raw)
	}

	to := synthTCBInfo(tdx)
	if c.tcb != nil {
		c.tcb(&to)
	}
	qio := testutil.QEIdentityOptions{TDX: tdx}
	if c.qe != nil {
		c.qe(&qio)
	}
	ti, err := dcap.ParseTCBInfo(p.TCBInfo(t, to))
	if err != nil {
		t.Fatal(err)
	}
	qi, err := dcap.ParseQEIdentity(p.QEIdentity(t, qio))
	if err != nil {
		t.Fatal(err)
	}
	nonce := qo.SGX.ReportData
	if tdx {
		nonce = qo.TD.ReportData
	}
	o := dcap.Options{
		Roots:        []*x509.Certificate{p.Root},
		Certificates: []*x509.Certificate{p.TCBSigning},
		CRLs: []*x509.RevocationList{
			p.RootCRL(t, testutil.CRLOptions{}),
			p.PCKCRL(t, testutil.CRLOptions{}),
			p.PCKCRL(t, testutil.CRLOptions{Processor: true}),
		},
		TCBInfos:     []*dcap.TCBInfo{ti},
		QEIdentities: []*dcap.QEIdentity{qi},
		Now:          p.Now,
		Nonce:        nonce[:],
	}
	if c.opts != nil {
		c.opts(t, env, &o)
	}
	q, err := dcap.ParseQuote(raw)
	if err != nil {
		return nil, nil, nil, err
	}
	v, checks, err := dcap.Verify(t.Context(), q, o)
	return q, v, checks, err
}

func synthOutcome(c attest.Check) string {
	switch {
	case c.Skipped:
		return "skip"
	case c.OK:
		return "pass"
	case c.Severity == attest.StatusWarning:
		return "warn"
	}
	return "fail"
}

func synthAssert(t *testing.T, c synthCase, v *dcap.Verification, checks []attest.Check, err error) {
	t.Helper()
	if c.wantErr == nil && err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.wantErr != nil && !errors.Is(err, c.wantErr) {
		t.Fatalf("Verify error %v, want one wrapping %v", err, c.wantErr)
	}
	found := c.check == ""
	for _, ch := range checks {
		got := synthOutcome(ch)
		if ch.Name == c.check {
			found = true
			if got != c.want {
				t.Errorf("check %s: %s (%s), want %s", ch.Name, got, ch.Detail, c.want)
			}
			if c.want == "fail" {
				break // later checks may fail too
			}
			continue
		}
		switch {
		case slices.Contains(c.alsoSkipped, ch.Name):
			if got != "skip" {
				t.Errorf("check %s: %s (%s), want skip", ch.Name, got, ch.Detail)
			}
		case got != "pass":
			t.Errorf("check %s: %s (%s), want pass", ch.Name, got, ch.Detail)
		}
	}
	if !found {
		t.Fatalf("no check %s among %v", c.check, synthNames(checks))
	}
	if c.want != "fail" {
		// A verification that does not fail ran every check: no pass is
		// vacuous.
		for _, name := range synthAllChecks {
			if !slices.Contains(synthNames(checks), name) {
				t.Errorf("check %s did not run (ran: %v)", name, synthNames(checks))
			}
		}
	}
	if c.status != "" {
		if v == nil || v.TCB == nil {
			t.Fatalf("no converged TCB status, want %s", c.status)
		}
		if v.TCB.Status != c.status {
			t.Errorf("converged TCB status %s, want %s (%s)", v.TCB.Status, c.status, v.TCB.Level)
		}
	}
	if c.module != "" {
		if v == nil || v.Module == nil {
			t.Fatalf("no TDX module status, want %s", c.module)
		}
		if v.Module.Status != c.module {
			t.Errorf("TDX module status %s, want %s", v.Module.Status, c.module)
		}
	}
}

// synthAllChecks are the checks of a verification that runs to the end.
var synthAllChecks = []string{"header", "chain.root", "chain.pck_ca", "chain.pck", "pck.extensions", "crl.root", "crl.pck",
	"qe.signature", "qe.binding", "signature", "collateral.tcb_info", "collateral.qe_identity", "qe.identity",
	"tcb.level", "tcb.status", "nonce"}

func synthNames(checks []attest.Check) []string {
	var out []string
	for _, c := range checks {
		out = append(out, c.Name)
	}
	return out
}

func synthCases() []synthCase {
	var cases []synthCase

	// Every quote shape verifies end to end, every check passing.
	for k := synthSGXv3; k <= synthTD15v5; k++ {
		c := synthCase{name: k.String() + "-uptodate", kind: k, status: dcap.UpToDate}
		if k == synthTD15v5 {
			c.module = dcap.UpToDate
		}
		cases = append(cases, c)
	}

	// Every TCB status of the platform's level: UpToDate affirms, Revoked
	// fails (ErrTCB), the rest warn without an error.
	statuses := []dcap.TCBStatus{dcap.UpToDate, dcap.SWHardeningNeeded, dcap.ConfigurationNeeded,
		dcap.ConfigurationAndSWHardeningNeeded, dcap.OutOfDate, dcap.OutOfDateConfigurationNeeded, dcap.Revoked}
	for _, k := range []synthKind{synthSGXv3, synthTDXv4, synthTD15v5} {
		for _, s := range statuses {
			c := synthCase{
				name: fmt.Sprintf("%s-status-%s", k, s), kind: k, check: "tcb.status", status: s,
				tcb: func(o *testutil.TCBInfoOptions) {
					o.Levels[0].Status = string(s)
					if s != dcap.UpToDate {
						o.Levels[0].Advisories = []string{"INTEL-SA-00615"}
					}
				},
			}
			switch dcap.DefaultTier(s) {
			case "affirming":
				c.want = "pass"
			case "warning":
				c.want = "warn"
			default:
				c.want, c.wantErr = "fail", dcap.ErrTCB
			}
			cases = append(cases, c)
		}
	}

	return append(cases, []synthCase{
		// TCB level matching.
		{name: "sgx-matches-lower-level", kind: synthSGXv3, check: "tcb.status", want: "warn", status: dcap.OutOfDate,
			pck: func(o *testutil.PCKOptions) { o.SGXComponents, o.PCESVN = [16]uint8{2, 2, 2, 2, 3, 1, 0, 3}, 11 }},
		{name: "sgx-below-every-level", kind: synthSGXv3, check: "tcb.level", want: "fail", wantErr: dcap.ErrTCB,
			pck: func(o *testutil.PCKOptions) { o.SGXComponents = [16]uint8{1, 1, 1, 1, 1, 1} }},
		{name: "sgx-pcesvn-below-every-level", kind: synthSGXv4, check: "tcb.level", want: "fail", wantErr: dcap.ErrTCB,
			pck: func(o *testutil.PCKOptions) { o.PCESVN = 10 }},
		{name: "tdx-tee-tcb-svn-lower-level", kind: synthTDXv4, check: "tcb.status", want: "warn", status: dcap.OutOfDate,
			quote: func(o *testutil.QuoteOptions) { o.TD.TEETCBSVN = [16]byte{4, 0, 3} }},
		{name: "tdx-tee-tcb-svn-below-every-level", kind: synthTDXv4, check: "tcb.level", want: "fail", wantErr: dcap.ErrTCB,
			quote: func(o *testutil.QuoteOptions) { o.TD.TEETCBSVN = [16]byte{2, 0, 1} }},
		{name: "td10-mrsignerseam-mismatch", kind: synthTD10v5, check: "tcb.level", want: "fail", wantErr: dcap.ErrTCB,
			tcb: func(o *testutil.TCBInfoOptions) { o.TDXModule = &testutil.TDXModule{MRSigner: [48]byte{1}} }},
		{name: "td10-seamattributes-debug", kind: synthTDXv4, check: "tcb.level", want: "fail", wantErr: dcap.ErrTCB,
			quote: func(o *testutil.QuoteOptions) { o.TD.SeamAttributes[0] = 1 }},

		// TDX 1.5 module identities.
		{name: "td15-platform-level-skips-module-svn-bytes", kind: synthTD15v5, status: dcap.UpToDate, module: dcap.UpToDate,
			// TEE_TCB_SVN[0] = 4 is below the level's tdxtcbcomponents[0]
			// = 5, but on a TDX 1.5 module bytes 0 and 1 are graded by
			// the module identity, not the platform level.
			quote: func(o *testutil.QuoteOptions) { o.TD.TEETCBSVN = [16]byte{4, 1, 3} }},
		{name: "td15-module-outofdate", kind: synthTD15v5, check: "tcb.status", want: "warn", status: dcap.OutOfDate, module: dcap.OutOfDate,
			quote: func(o *testutil.QuoteOptions) { o.TD.TEETCBSVN = [16]byte{3, 1, 3} }},
		{name: "td15-module-revoked", kind: synthTD15v5, check: "tcb.status", want: "fail", wantErr: dcap.ErrTCB, status: dcap.Revoked, module: dcap.Revoked,
			tcb: func(o *testutil.TCBInfoOptions) { o.ModuleIdentities[0].Levels[0].Status = "Revoked" }},
		{name: "td15-module-below-every-level", kind: synthTD15v5, check: "tcb.level", want: "fail", wantErr: dcap.ErrTCB,
			quote: func(o *testutil.QuoteOptions) { o.TD.TEETCBSVN = [16]byte{1, 1, 3} }},
		{name: "td15-no-identity-for-major-version", kind: synthTD15v5, check: "tcb.level", want: "fail", wantErr: dcap.ErrTCB,
			quote: func(o *testutil.QuoteOptions) { o.TD.TEETCBSVN = [16]byte{4, 3, 3} }},
		{name: "td15-tcb-info-without-module-identities", kind: synthTD15v5, check: "tcb.level", want: "fail", wantErr: dcap.ErrTCB,
			tcb: func(o *testutil.TCBInfoOptions) { o.ModuleIdentities = nil }},
		{name: "td15-module-identity-mrsigner-mismatch", kind: synthTD15v5, check: "tcb.level", want: "fail", wantErr: dcap.ErrTCB,
			tcb: func(o *testutil.TCBInfoOptions) { o.ModuleIdentities[0].MRSigner = [48]byte{1} }},
		{name: "td15-platform-outofdate-module-uptodate", kind: synthTD15v5, check: "tcb.status", want: "warn", status: dcap.OutOfDate, module: dcap.UpToDate,
			quote: func(o *testutil.QuoteOptions) { o.TD.TEETCBSVN = [16]byte{4, 1, 2} }},
		{name: "td15-body-with-tdx10-module", kind: synthTD15v5, status: dcap.UpToDate,
			// TEE_TCB_SVN[1] = 0: a TDX 1.0 module in a v5 TD 1.5 body,
			// graded by tdxModule and the platform level alone.
			quote: func(o *testutil.QuoteOptions) { o.TD.TEETCBSVN = synthTEE10 }},

		// The quoting enclave.
		{name: "qe-outofdate", kind: synthSGXv3, check: "tcb.status", want: "warn", status: dcap.OutOfDate,
			qe: func(o *testutil.QEIdentityOptions) {
				o.Levels = []testutil.IdentityLevel{{ISVSVN: 9}, {ISVSVN: 6, Status: "OutOfDate", Advisories: []string{"INTEL-SA-00615"}}}
			}},
		{name: "td-qe-below-every-level", kind: synthTDXv4, check: "tcb.status", want: "fail", wantErr: dcap.ErrTCB, status: dcap.Revoked,
			qe: func(o *testutil.QEIdentityOptions) { o.Levels = []testutil.IdentityLevel{{ISVSVN: 5}} }},
		{name: "qe-report-wrong-mrsigner", kind: synthSGXv3, check: "qe.identity", want: "fail", wantErr: dcap.ErrCollateral,
			quote: func(o *testutil.QuoteOptions) { o.EditQE = func(r *testutil.SGXBody) { r.MRSigner[31] ^= 1 } }},
		{name: "qe-identity-wrong-mrsigner", kind: synthTDXv4, check: "qe.identity", want: "fail", wantErr: dcap.ErrCollateral,
			qe: func(o *testutil.QEIdentityOptions) { o.MRSigner = [32]byte{1} }},
		{name: "qe-wrong-isvprodid", kind: synthTD15v5, check: "qe.identity", want: "fail", wantErr: dcap.ErrCollateral,
			quote: func(o *testutil.QuoteOptions) { o.EditQE = func(r *testutil.SGXBody) { r.ISVProdID = 1 } }},
		{name: "qe-debug", kind: synthSGXv4, check: "qe.identity", want: "fail", wantErr: dcap.ErrCollateral,
			quote: func(o *testutil.QuoteOptions) { o.EditQE = func(r *testutil.SGXBody) { r.Attributes[0] |= 0x02 } }},
		{name: "qe-miscselect", kind: synthSGXv5, check: "qe.identity", want: "fail", wantErr: dcap.ErrCollateral,
			quote: func(o *testutil.QuoteOptions) { o.EditQE = func(r *testutil.SGXBody) { r.MiscSelect = 1 } }},
		{name: "qe-identity-of-sgx-for-td-quote", kind: synthTDXv4, check: "collateral.qe_identity", want: "fail", wantErr: dcap.ErrCollateralMissing,
			qe: func(o *testutil.QEIdentityOptions) { o.TDX = false }},
		{name: "qe-identity-missing", kind: synthSGXv3, check: "collateral.qe_identity", want: "fail", wantErr: dcap.ErrCollateralMissing,
			opts: func(_ *testing.T, _ *synthEnv, o *dcap.Options) { o.QEIdentities = nil }},

		// Quote signatures.
		{name: "qe-binding-broken", kind: synthTDXv4, check: "qe.binding", want: "fail", wantErr: dcap.ErrSignature,
			quote: func(o *testutil.QuoteOptions) { o.CorruptQEBinding = true }},
		{name: "sgx-body-byte-flipped", kind: synthSGXv3, check: "signature", want: "fail", wantErr: dcap.ErrSignature,
			raw: func(b []byte) { b[dcap.HeaderSize+64] ^= 1 }},
		{name: "td-body-byte-flipped", kind: synthTD15v5, check: "signature", want: "fail", wantErr: dcap.ErrSignature,
			raw: func(b []byte) { b[dcap.HeaderSize+6+600] ^= 0x80 }},
		{name: "qe-report-byte-flipped", kind: synthSGXv3, check: "qe.signature", want: "fail", wantErr: dcap.ErrSignature,
			raw: func(b []byte) { b[dcap.HeaderSize+dcap.SGXReportSize+4+128+10] ^= 1 }},
		{name: "qe-vendor-not-intel", kind: synthSGXv3, check: "header", want: "fail", wantErr: dcap.ErrMalformed,
			quote: func(o *testutil.QuoteOptions) { o.QEVendorID = [16]byte{1} }},

		// Trust anchors and certificates.
		{name: "test-root-not-trusted-by-default", kind: synthTDXv4, check: "chain.root", want: "fail", wantErr: dcap.ErrChain,
			opts: func(_ *testing.T, _ *synthEnv, o *dcap.Options) { o.Roots = nil }},
		{name: "other-pki-root", kind: synthSGXv3, check: "chain.root", want: "fail", wantErr: dcap.ErrChain,
			opts: func(_ *testing.T, e *synthEnv, o *dcap.Options) { o.Roots = []*x509.Certificate{e.other.Root} }},
		{name: "pck-expired", kind: synthSGXv3, check: "chain.pck", want: "fail", wantErr: dcap.ErrChain,
			pck: func(o *testutil.PCKOptions) { o.NotAfter = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{name: "pck-processor-ca", kind: synthSGXv3, status: dcap.UpToDate,
			pck: func(o *testutil.PCKOptions) { o.Processor = true }},

		// Revocation.
		{name: "pck-revoked", kind: synthTDXv4, check: "crl.pck", want: "fail", wantErr: dcap.ErrRevoked,
			opts: func(t *testing.T, e *synthEnv, o *dcap.Options) {
				o.CRLs = []*x509.RevocationList{e.pki.RootCRL(t, testutil.CRLOptions{}), e.pki.PCKCRL(t, testutil.CRLOptions{}, big.NewInt(7), e.pck.Cert.SerialNumber)}
			}},
		{name: "processor-pck-revoked", kind: synthSGXv3, check: "crl.pck", want: "fail", wantErr: dcap.ErrRevoked,
			pck: func(o *testutil.PCKOptions) { o.Processor = true },
			opts: func(t *testing.T, e *synthEnv, o *dcap.Options) {
				o.CRLs = []*x509.RevocationList{e.pki.RootCRL(t, testutil.CRLOptions{}), e.pki.PCKCRL(t, testutil.CRLOptions{Processor: true}, e.pck.Cert.SerialNumber)}
			}},
		{name: "pck-serial-on-other-cas-crl", kind: synthSGXv3, status: dcap.UpToDate,
			// The Platform CA's CRL lists the serial of a PCK the
			// Processor CA issued: a CRL speaks only for its issuer.
			pck: func(o *testutil.PCKOptions) { o.Processor = true },
			opts: func(t *testing.T, e *synthEnv, o *dcap.Options) {
				o.CRLs = []*x509.RevocationList{e.pki.RootCRL(t, testutil.CRLOptions{}),
					e.pki.PCKCRL(t, testutil.CRLOptions{}, e.pck.Cert.SerialNumber), e.pki.PCKCRL(t, testutil.CRLOptions{Processor: true})}
			}},
		{name: "pck-ca-revoked", kind: synthTD15v5, check: "crl.root", want: "fail", wantErr: dcap.ErrRevoked,
			opts: func(t *testing.T, e *synthEnv, o *dcap.Options) {
				o.CRLs = []*x509.RevocationList{e.pki.RootCRL(t, testutil.CRLOptions{}, e.pki.PlatformCA.SerialNumber), e.pki.PCKCRL(t, testutil.CRLOptions{})}
			}},
		{name: "pck-crl-expired", kind: synthSGXv3, check: "crl.pck", want: "fail", wantErr: dcap.ErrRevoked,
			opts: func(t *testing.T, e *synthEnv, o *dcap.Options) {
				o.CRLs = []*x509.RevocationList{e.pki.RootCRL(t, testutil.CRLOptions{}), e.pki.PCKCRL(t, testutil.CRLOptions{
					ThisUpdate: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), NextUpdate: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)})}
			}},
		{name: "pck-crl-from-other-pki", kind: synthSGXv3, check: "crl.pck", want: "fail", wantErr: dcap.ErrRevoked,
			// Same issuer name, another key: a forged CRL is an error,
			// not a missing one.
			opts: func(t *testing.T, e *synthEnv, o *dcap.Options) {
				o.CRLs = []*x509.RevocationList{e.pki.RootCRL(t, testutil.CRLOptions{}), e.other.PCKCRL(t, testutil.CRLOptions{})}
			}},
		{name: "no-crls", kind: synthTDXv4, status: dcap.UpToDate, alsoSkipped: []string{"crl.root", "crl.pck"},
			opts: func(_ *testing.T, _ *synthEnv, o *dcap.Options) { o.CRLs = nil }},
		{name: "tcb-signing-revoked", kind: synthSGXv3, check: "collateral.tcb_signing", want: "fail", wantErr: dcap.ErrChain,
			opts: func(t *testing.T, e *synthEnv, o *dcap.Options) {
				o.CRLs = []*x509.RevocationList{e.pki.RootCRL(t, testutil.CRLOptions{}, e.pki.TCBSigning.SerialNumber), e.pki.PCKCRL(t, testutil.CRLOptions{})}
			}},

		// Collateral.
		{name: "tcb-info-expired", kind: synthTDXv4, check: "collateral.tcb_info", want: "fail", wantErr: dcap.ErrCollateral,
			tcb: func(o *testutil.TCBInfoOptions) {
				o.IssueDate, o.NextUpdate = time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
			}},
		{name: "tcb-info-issued-after-now", kind: synthSGXv3, check: "collateral.tcb_info", want: "fail", wantErr: dcap.ErrCollateral,
			tcb: func(o *testutil.TCBInfoOptions) {
				o.IssueDate, o.NextUpdate = time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC), time.Date(2025, 7, 20, 0, 0, 0, 0, time.UTC)
			}},
		{name: "qe-identity-expired", kind: synthTD15v5, check: "collateral.qe_identity", want: "fail", wantErr: dcap.ErrCollateral,
			qe: func(o *testutil.QEIdentityOptions) {
				o.IssueDate, o.NextUpdate = time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
			}},
		{name: "tcb-info-wrong-signer", kind: synthSGXv3, check: "collateral.tcb_info", want: "fail", wantErr: dcap.ErrSignature,
			tcb: func(o *testutil.TCBInfoOptions) { o.SigningKey = synthKey() }},
		{name: "qe-identity-wrong-signer", kind: synthTDXv4, check: "collateral.qe_identity", want: "fail", wantErr: dcap.ErrSignature,
			qe: func(o *testutil.QEIdentityOptions) { o.SigningKey = synthKey() }},
		{name: "tcb-info-other-fmspc", kind: synthSGXv3, check: "collateral.tcb_info", want: "fail", wantErr: dcap.ErrCollateralMissing,
			tcb: func(o *testutil.TCBInfoOptions) { o.FMSPC = [6]byte{0x00, 0x80, 0x6F, 0x05, 0, 0} }},
		{name: "tcb-info-other-pceid", kind: synthTDXv4, check: "collateral.tcb_info", want: "fail", wantErr: dcap.ErrCollateralMissing,
			tcb: func(o *testutil.TCBInfoOptions) { o.PCEID = [2]byte{0, 1} }},
		{name: "tcb-info-of-sgx-for-td-quote", kind: synthTDXv4, check: "collateral.tcb_info", want: "fail", wantErr: dcap.ErrCollateralMissing,
			tcb: func(o *testutil.TCBInfoOptions) { o.TDX = false }},
		{name: "tcb-info-v2", kind: synthSGXv3, status: dcap.UpToDate,
			tcb: func(o *testutil.TCBInfoOptions) { o.Version = 2 }},
		{name: "tcb-signing-expired", kind: synthSGXv3, check: "collateral.tcb_signing", want: "fail", wantErr: dcap.ErrChain,
			opts: func(t *testing.T, e *synthEnv, o *dcap.Options) {
				o.Certificates = []*x509.Certificate{e.pki.TCBSigningCert(t, time.Date(2018, 5, 21, 0, 0, 0, 0, time.UTC), time.Date(2025, 5, 21, 0, 0, 0, 0, time.UTC))}
			}},
		{name: "tcb-signing-reissued", kind: synthTDXv4, status: dcap.UpToDate,
			opts: func(t *testing.T, e *synthEnv, o *dcap.Options) {
				o.Certificates = []*x509.Certificate{e.pki.TCBSigningCert(t, time.Date(2025, 5, 6, 0, 0, 0, 0, time.UTC), time.Date(2032, 5, 6, 0, 0, 0, 0, time.UTC))}
			}},
		{name: "tcb-signing-absent", kind: synthSGXv3, check: "collateral.tcb_signing", want: "fail", wantErr: dcap.ErrChain,
			opts: func(_ *testing.T, _ *synthEnv, o *dcap.Options) { o.Certificates = nil }},
		{name: "tcb-signing-of-other-pki", kind: synthTDXv4, check: "collateral.tcb_signing", want: "fail", wantErr: dcap.ErrChain,
			opts: func(_ *testing.T, e *synthEnv, o *dcap.Options) {
				o.Certificates = []*x509.Certificate{e.other.TCBSigning}
			}},

		// Nonce.
		{name: "nonce-mismatch", kind: synthTDXv4, check: "nonce", want: "fail", wantErr: dcap.ErrNonce,
			opts: func(_ *testing.T, _ *synthEnv, o *dcap.Options) { o.Nonce = []byte("another nonce") }},
		{name: "nonce-absent", kind: synthSGXv3, check: "nonce", want: "skip", status: dcap.UpToDate,
			opts: func(_ *testing.T, _ *synthEnv, o *dcap.Options) { o.Nonce = nil }},
	}...)
}

// synthKey is a key no certificate names. (GenerateKey with crypto/rand
// does not fail; the panic only keeps the table's hooks free of t.)
func synthKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func TestVerifySynthetic(t *testing.T) {
	pki, other := testutil.NewIntelPKI(t), testutil.NewIntelPKI(t)
	names := map[string]bool{}
	for _, c := range synthCases() {
		if names[c.name] {
			t.Fatalf("case %s twice", c.name)
		}
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			_, v, checks, err := synthRun(t, &synthEnv{pki: pki, other: other}, c)
			synthAssert(t, c, v, checks, err)
		})
	}
}

// TestVerifySyntheticAdvisories checks that the converged advisories are
// the union of the platform's, the module's and the QE's levels, and reach
// the claims.
func TestVerifySyntheticAdvisories(t *testing.T) {
	env := &synthEnv{pki: testutil.NewIntelPKI(t), other: testutil.NewIntelPKI(t)}
	c := synthCase{kind: synthTD15v5,
		quote: func(o *testutil.QuoteOptions) { o.TD.TEETCBSVN = [16]byte{3, 1, 3} }, // module OutOfDate: INTEL-SA-01036
		tcb: func(o *testutil.TCBInfoOptions) {
			o.Levels[0].Status, o.Levels[0].Advisories = "SWHardeningNeeded", []string{"INTEL-SA-00615"}
		},
		qe: func(o *testutil.QEIdentityOptions) {
			o.Levels = []testutil.IdentityLevel{{ISVSVN: 4, Status: "UpToDate", Advisories: []string{"INTEL-SA-00219"}}}
		},
	}
	q, v, _, err := synthRun(t, env, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"INTEL-SA-00219", "INTEL-SA-00615", "INTEL-SA-01036"}
	if v.TCB == nil || v.TCB.Status != dcap.OutOfDate || !slices.Equal(v.TCB.Advisory, want) {
		t.Fatalf("converged %+v, want OutOfDate with %v", v.TCB, want)
	}
	cl := dcap.NewTCBClaims(q, v)
	if cl.TCBStatus != "OutOfDate" || cl.PlatformTCBStatus != "SWHardeningNeeded" || cl.TDXModuleTCBStatus != "OutOfDate" ||
		cl.QETCBStatus != "UpToDate" || !slices.Equal(cl.AdvisoryIDs, want) || cl.FMSPC != "90c06f000000" {
		t.Errorf("claims %+v", cl)
	}
}

// TestVerifySyntheticFlips flips every byte of each synthetic quote shape
// up to the end of the QE auth data (header, body, signature, attestation
// key, QE report and its signature, auth data and the lengths between):
// each flip must be rejected as malformed or as a bad signature.
func TestVerifySyntheticFlips(t *testing.T) {
	p := testutil.NewIntelPKI(t)
	pck := p.IssuePCK(t, testutil.PCKOptions{FMSPC: synthFMSPC, SGXComponents: synthSGX, PCESVN: synthPCESVN})
	cache := &dcap.Cache{}
	for _, k := range []synthKind{synthSGXv3, synthSGXv5, synthTDXv4, synthTD15v5} {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			qo := testutil.QuoteOptions{PCK: pck, TDX: k.tdx(), TD15: k == synthTD15v5, Version: map[synthKind]int{synthSGXv3: 3, synthSGXv5: 5, synthTDXv4: 4, synthTD15v5: 5}[k]}
			qo.TD.TEETCBSVN = synthTEE10
			if qo.TD15 {
				qo.TD.TEETCBSVN = synthTEE15
			}
			raw := p.Quote(t, qo)
			ti, err := dcap.ParseTCBInfo(p.TCBInfo(t, synthTCBInfo(k.tdx())))
			if err != nil {
				t.Fatal(err)
			}
			qi, err := dcap.ParseQEIdentity(p.QEIdentity(t, testutil.QEIdentityOptions{TDX: k.tdx()}))
			if err != nil {
				t.Fatal(err)
			}
			o := dcap.Options{
				Roots: []*x509.Certificate{p.Root}, Certificates: []*x509.Certificate{p.TCBSigning},
				CRLs:     []*x509.RevocationList{p.RootCRL(t, testutil.CRLOptions{}), p.PCKCRL(t, testutil.CRLOptions{})},
				TCBInfos: []*dcap.TCBInfo{ti}, QEIdentities: []*dcap.QEIdentity{qi}, Now: p.Now, Cache: cache,
			}
			verify := func(b []byte) error {
				q, err := dcap.ParseQuote(b)
				if err != nil {
					return err
				}
				_, _, err = dcap.Verify(t.Context(), q, o)
				return err
			}
			if err := verify(raw); err != nil {
				t.Fatalf("unmodified quote: %v", err)
			}
			q, _ := dcap.ParseQuote(raw)
			end := len(q.Signed()) + 4 + 128 + dcap.SGXReportSize + 64 + 2 + len(q.QEAuthData)
			if k != synthSGXv3 {
				end += 6 // certification data type 6 and its size
			}
			for i := range end {
				b := bytes.Clone(raw)
				b[i] ^= 0xFF
				err := verify(b)
				if !errors.Is(err, dcap.ErrMalformed) && !errors.Is(err, dcap.ErrSignature) {
					t.Errorf("byte %#x flipped: %v, want ErrMalformed or ErrSignature", i, err)
				}
			}
		})
	}
}
