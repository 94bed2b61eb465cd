package azcvm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/verifier/sevsnp"
	"github.com/assay-dev/assay/verifier/tdx"
	"github.com/assay-dev/assay/verifier/tpm"
	"github.com/google/go-tpm/tpm2"
)

// Options of Verify. Passed by value, never written.
type Options struct {
	// Now is the verification time; nil means time.Now.
	Now func() time.Time
	// Nonce is the expected extraData of the vTPM quote; nil means
	// freshness is not checked, and the nonce check says so. The hardware
	// report's REPORT_DATA carries the runtime data hash, never the nonce.
	// A nonce longer than extraData can hold (66 bytes) fails as such.
	Nonce []byte
	// SNP configures the SEV-SNP report's verification (roots,
	// certificates beside the evidence, CRLs, collateral, product, cache).
	// Its Now and Nonce are ignored: Options.Now is used, and REPORT_DATA
	// is checked by hcl.binding. The zero value is offline with the
	// embedded AMD roots and only the evidence's VCEK.
	SNP sevsnp.Options
	// SNPPolicy is the built-in SNP policy; the zero value is the default.
	SNPPolicy sevsnp.Policy
	// DCAP configures the TD quote's verification (roots, Intel collateral,
	// cache, tiers); its Now and Nonce are ignored likewise. The zero value
	// has no Intel collateral, so a TD quote is rejected naming it.
	DCAP dcap.Options
	// TDQuote is the TD quote of a raw HCL report of a TDX VM; nil means
	// the one the evidence carries.
	TDQuote []byte
	// AKCertificate is the vTPM's AK certificate (NV index 0x01C101D0),
	// a second anchor for the AK; nil means none, and
	// vtpm.ak_certificate is skipped: hcl.binding alone vouches for it.
	AKCertificate *x509.Certificate
	// AKIntermediates are tried beside those embedded in package tpm
	// ("Global Virtual TPM CA - 01/03"); nil adds none.
	AKIntermediates []*x509.Certificate
	// AKRoots are the trusted vTPM CAs for AKCertificate; nil means the
	// embedded "Azure Virtual TPM Root Certificate Authority 2023".
	AKRoots []*x509.Certificate
	// EventLog is the vTPM's TCG event log (crypto-agile, with a SHA-256
	// bank), replayed against the quoted SHA-256 PCRs; nil means no
	// replay, and vtpm.eventlog.replay says so.
	EventLog []byte
}

// Verify checks Azure CVM evidence: hcl.parse (done by Parse), the
// hardware report (snp.* or tdx.* checks of the composed verifiers),
// hcl.binding, the AK certificate when one is given
// (vtpm.ak_certificate), then the vTPM quote with the AK they vouch for
// (vtpm.signature, vtpm.pcr_digest), the nonce, the event log's replay
// (vtpm.eventlog.replay), and policy. It returns
// the claims (*SNPClaims or *TDXClaims; unverified claims are returned
// for display too, the error says they are not to be believed), the
// checks in order, and an error wrapping the first failure.
func Verify(ctx context.Context, ev *Evidence, o Options) (any, []attest.Check, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var checks attest.Checks
	h := ev.HCL
	checks.Pass("hcl.parse", "%s: HCL report version %d, %s report, %d bytes of runtime data with AK %q (%d-bit RSA)", ev.Format, h.Version, reportName(h.ReportType), len(h.RuntimeData), AKKeyID, h.Runtime.AK.N.BitLen())

	az := newAzureClaims(h)
	var claims any
	var reportData []byte
	var policy []attest.Check
	hwOK := false
	switch h.ReportType {
	case ReportTypeSNP:
		c, rd, cs, err := verifySNP(ctx, ev, o, now)
		checks.Merge(cs, err)
		reportData, hwOK = rd, err == nil
		sc := &SNPClaims{Claims: c, Azure: az}
		claims = sc
		if c != nil && hwOK {
			policy = o.SNPPolicy.Apply(c)
		}
	case ReportTypeTDX:
		c, rd, cs, err := verifyTDX(ctx, ev, o, now)
		checks.Merge(cs, err)
		reportData, hwOK = rd, err == nil
		tc := &TDXClaims{Claims: c, Azure: az}
		claims = tc
		if c != nil && hwOK {
			if c.TDAttributes.Debug {
				policy = append(policy, attest.Fail("policy.debug", fmt.Errorf("%w: TDATTRIBUTES.DEBUG is set: the host can read and modify TD memory; contraindicated by default policy", dcap.ErrPolicy)))
			} else {
				policy = append(policy, attest.Pass("policy.debug", "TDATTRIBUTES.DEBUG is clear"))
			}
		}
	}

	// hcl.binding: the hardware report commits to the runtime data, so
	// the AK, the VM configuration and the user data in it come from
	// the paravisor inside the TEE.
	if reportData == nil {
		checks.Fail("hcl.binding", fmt.Errorf("%w: no hardware REPORT_DATA to compare with the runtime data", ErrBinding))
	} else if err := checkBinding(h, reportData); err != nil {
		checks.Fail("hcl.binding", err)
	} else {
		checks.Pass("hcl.binding", "REPORT_DATA[0:%d] of the %s report equals %s of the %d bytes of HCL runtime data (%s): the AK, VM configuration and user data come from the paravisor inside the TEE", hashLen(h.HashType), reportName(h.ReportType), hashName(h.HashType), len(h.RuntimeData), az.RuntimeDataSHA256)
	}
	bound := hwOK && checks.Err == nil
	if bound {
		az.AKPub.VouchedBy = append(az.AKPub.VouchedBy, "hcl.binding")
	}

	// vtpm.ak_certificate: Microsoft's vTPM CA as a second anchor.
	a := anchors{bound: bound}
	if c := o.AKCertificate; c == nil {
		checks.Skip("vtpm.ak_certificate", "no AK certificate (vTPM NV index 0x%08x) was supplied: the AK is vouched for by hcl.binding alone", AKCertNVIndex)
	} else if detail, err := checkAKCertificate(c, h.Runtime.AK, o.AKIntermediates, o.AKRoots, now()); err != nil {
		a.certFailed = true
		checks.Fail("vtpm.ak_certificate", err)
	} else {
		a.cert = true
		checks.Pass("vtpm.ak_certificate", "%s", detail)
		az.AKPub.VouchedBy = append(az.AKPub.VouchedBy, "vtpm.ak_certificate")
		az.AKPub.Certificate = &tpm.CertClaims{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: fmt.Sprintf("%#x", c.SerialNumber), NotAfter: c.NotAfter.UTC().Format(time.RFC3339)}
	}

	// The vTPM quote.
	var pcrs tpm.PCRs
	var log *tcg.Log
	if ev.Quote == nil {
		checks.List = append(checks.List,
			attest.Skip("vtpm.signature", "no vTPM quote: the evidence is a bare HCL report; the AK is bound but nothing it signed was supplied"),
			attest.Skip("vtpm.pcr_digest", "no vTPM quote: no PCR values are attested"),
			attest.Skip("nonce", "no vTPM quote, so no extraData to compare; REPORT_DATA carries the runtime data hash, not a nonce: the evidence may be a replay"),
			attest.Skip("vtpm.eventlog.replay", "no vTPM quote: no PCR values to replay an event log against"))
	} else {
		p, l, cs, err := verifyQuote(ev.Quote, h, o.Nonce, a, o.EventLog)
		checks.Merge(cs, err)
		pcrs, log = p, l
	}
	checks.List = append(checks.List, policy...)
	for _, c := range policy {
		if !c.OK && checks.Err == nil {
			checks.Err = fmt.Errorf("%s", c.Detail)
		}
	}
	if pcrs != nil && checks.Err == nil {
		var lc *tcg.Claims
		if log != nil {
			lc = log.Claims()
		}
		switch c := claims.(type) {
		case *SNPClaims:
			c.PCRs, c.EventLog = pcrClaims(pcrs), lc
		case *TDXClaims:
			c.PCRs, c.EventLog = pcrClaims(pcrs), lc
		}
	}
	return claims, checks.List, checks.Err
}

// anchors is what vouches for the AK: the hardware report's binding of
// the runtime data (hcl.binding) and Microsoft's AK certificate.
type anchors struct {
	bound      bool // hardware report verified and hcl.binding passed
	cert       bool // vtpm.ak_certificate passed
	certFailed bool // an AK certificate was supplied and did not pass
}

func (a anchors) String() string {
	const binding = "the hardware report's REPORT_DATA binds the runtime data that carries it (hcl.binding)"
	switch {
	case a.bound && a.cert:
		return "the AK is vouched for twice: " + binding + ", and Microsoft's vTPM CA certifies it (vtpm.ak_certificate)"
	case a.bound && a.certFailed:
		return "the AK is trusted because " + binding + "; the AK certificate supplied beside it does not vouch for it (vtpm.ak_certificate)"
	case a.bound:
		return "the AK is trusted because " + binding + ", not by an AK certificate"
	case a.cert:
		return "the hardware report or its binding of the runtime data failed: only the AK certificate vouches for the AK, and the result is not trusted"
	}
	return "but the AK is NOT vouched for: the hardware report or its binding of the runtime data failed"
}

func reportName(t uint32) string {
	if t == ReportTypeTDX {
		return "TDX"
	}
	return "SNP"
}

func hashLen(t uint32) int {
	switch t {
	case HashSHA384:
		return 48
	case HashSHA512:
		return 64
	}
	return 32
}

func hashName(t uint32) string {
	return map[uint32]string{HashSHA256: "SHA-256", HashSHA384: "SHA-384", HashSHA512: "SHA-512"}[t]
}

// checkBinding compares REPORT_DATA with the hash of the runtime data, as
// the HCL computed it (IGVM_REQUEST_DATA.report_data_hash_type).
func checkBinding(h *HCLReport, reportData []byte) error {
	var sum []byte
	switch h.HashType {
	case HashSHA256:
		s := sha256.Sum256(h.RuntimeData)
		sum = s[:]
	case HashSHA384:
		s := sha512.Sum384(h.RuntimeData)
		sum = s[:]
	case HashSHA512:
		s := sha512.Sum512(h.RuntimeData)
		sum = s[:]
	default:
		return fmt.Errorf("%w: report_data_hash_type %d, want 1 (SHA-256), 2 (SHA-384) or 3 (SHA-512)", ErrMalformed, h.HashType)
	}
	if got := reportData[:len(sum)]; !bytes.Equal(got, sum) {
		return fmt.Errorf("%w: REPORT_DATA[0:%d] is %x, %s of the runtime data is %x", ErrBinding, len(sum), got, hashName(h.HashType), sum)
	}
	return nil
}

// prefixed renames a composed verifier's checks ("signature" ->
// "snp.signature") and drops its nonce check: REPORT_DATA is bound to the
// runtime data, and freshness comes from the vTPM quote.
func prefixed(prefix string, cs []attest.Check) []attest.Check {
	var out []attest.Check
	for _, c := range cs {
		if c.Name == "nonce" {
			continue
		}
		c.Name = prefix + "." + c.Name
		out = append(out, c)
	}
	return out
}

func verifySNP(ctx context.Context, ev *Evidence, o Options, now func() time.Time) (*sevsnp.Claims, []byte, []attest.Check, error) {
	r, err := sevsnp.Parse(ev.HCL.HWReport)
	if err != nil {
		return nil, nil, []attest.Check{attest.Fail("snp.parse", err)}, err
	}
	so := o.SNP
	so.Now, so.Nonce = now, nil
	// Certificates supplied beside the evidence come first: an operator's
	// VCEK is the one judged. The evidence's VCEK (Azure's, from the
	// host's certificate cache) is used otherwise.
	certs := slices.Clone(so.Certificates)
	hasVEK := slices.ContainsFunc(certs, isVEK)
	for _, c := range ev.VCEK {
		if isVEK(c) && hasVEK {
			continue
		}
		certs = append(certs, c)
	}
	so.Certificates = certs
	ver, cs, err := sevsnp.Verify(ctx, r, so)
	out := append([]attest.Check{attest.Pass("snp.parse", "SNP attestation report version %d at HCL offset %#x", r.Version, hwReportOffset)}, prefixed("snp", cs)...)
	if err != nil {
		var vek *sevsnp.VEK
		p := sevsnp.ProductUnknown
		if ver != nil {
			vek, p = ver.VEK, ver.Product
		}
		if p == sevsnp.ProductUnknown {
			p = sevsnp.Milan
		}
		c, _ := sevsnp.NewClaims(r, p, vek)
		return c, nil, out, err
	}
	return ver.Claims, r.ReportData[:], out, nil
}

func isVEK(c *x509.Certificate) bool {
	return c.Subject.CommonName == "SEV-VCEK" || c.Subject.CommonName == "SEV-VLEK"
}

// TDREPORT offsets (Intel TDX Module ABI, TDREPORT_STRUCT): REPORTDATA in
// REPORTMACSTRUCT at 128, MRTD in TDINFO (at 512) at 16.
const (
	tdReportDataOffset = 128
	tdMRTDOffset       = 512 + 16
)

func verifyTDX(ctx context.Context, ev *Evidence, o Options, now func() time.Time) (*tdx.Claims, []byte, []attest.Check, error) {
	raw := ev.TDQuote
	if o.TDQuote != nil {
		raw = o.TDQuote
	}
	if len(raw) == 0 {
		err := fmt.Errorf("%w: a TDX HCL report needs the TD quote of its TD report (Azure IMDS /acc/tdquote); none was supplied", ErrCollateralMissing)
		return nil, nil, []attest.Check{attest.Fail("tdx.parse", err)}, err
	}
	q, err := dcap.ParseQuote(raw)
	if err == nil && q.TD == nil {
		err = fmt.Errorf("%w: an SGX quote, not a TD quote", dcap.ErrMalformed)
	}
	if err != nil {
		return nil, nil, []attest.Check{attest.Fail("tdx.parse", err)}, err
	}
	out := []attest.Check{attest.Pass("tdx.parse", "TD quote version %d, %s body, %d bytes%s", q.Header.Version, q.BodyName(), len(q.Raw()), dcap.TrailingNote(q))}
	do := o.DCAP
	do.Now, do.Nonce = now, nil
	ver, cs, verr := dcap.Verify(ctx, q, do)
	out = append(out, prefixed("tdx", cs)...)
	c := tdx.NewClaims(q, ver)
	// The quote must carry the HCL's TD report: same REPORTDATA, same MRTD.
	td := ev.HCL.HWReport
	if !bytes.Equal(q.TD.ReportData[:], td[tdReportDataOffset:tdReportDataOffset+64]) || !bytes.Equal(q.TD.MRTD[:], td[tdMRTDOffset:tdMRTDOffset+48]) {
		err := fmt.Errorf("%w: the TD quote's REPORTDATA %x / MRTD %x are not the HCL TD report's %x / %x", ErrBinding, q.TD.ReportData[:8], q.TD.MRTD[:8], td[tdReportDataOffset:tdReportDataOffset+8], td[tdMRTDOffset:tdMRTDOffset+8])
		out = append(out, attest.Fail("tdx.td_report", err))
		if verr == nil {
			verr = err
		}
	} else {
		out = append(out, attest.Pass("tdx.td_report", "the TD quote carries the HCL's TD report (REPORTDATA and MRTD equal)"))
	}
	if verr == nil {
		for _, ch := range cs {
			if !ch.OK && ch.Severity != attest.StatusWarning {
				verr = errors.New(ch.Detail)
				break
			}
		}
	}
	if verr != nil {
		return c, nil, out, verr
	}
	return c, q.TD.ReportData[:], out, nil
}

// maxExtraData bounds a quote's extraData: TPM2B_DATA's buffer is
// sizeof(TPMT_HA) (TPM 2.0 Part 2, section 10.4.3), a 2-byte algorithm and
// the largest digest, 64 bytes of SHA-512; a TPM without SHA-512 takes less.
const maxExtraData = 2 + 64

// verifyQuote checks the vTPM quote with the AK of the runtime data, then
// replays the event log, when there is one, against the verified PCRs. a
// says what vouches for the AK.
func verifyQuote(tq *TPMQuote, h *HCLReport, nonce []byte, a anchors, eventLog []byte) (tpm.PCRs, *tcg.Log, []attest.Check, error) {
	var checks attest.Checks
	skipLog := func(why string) {
		checks.Skip("vtpm.eventlog.replay", "%s", why)
	}
	q, err := tpm.ParseAttest(tq.Message)
	if err != nil {
		checks.Fail("vtpm.signature", err)
		skipLog("not replayed: the quote did not verify")
		return nil, nil, checks.List, checks.Err
	}
	// Trustee carries the bare RSASSA signature; the vTPM signs quotes
	// with its RSA AK, RSASSA-PKCS1-v1_5 over SHA-256.
	q.Sig = &tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgRSASSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA, &tpm2.TPMSSignatureRSA{Hash: tpm2.TPMAlgSHA256, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: tq.Signature}})}
	ak := &tpm.AK{Key: h.Runtime.AK}
	if err := tpm.VerifySignature(ak, q.Sig, q.Raw); err != nil {
		checks.Fail("vtpm.signature", err)
		skipLog("not replayed: the quote did not verify")
		return nil, nil, checks.List, checks.Err
	}
	checks.Pass("vtpm.signature", "the vTPM quote (%d bytes of TPMS_ATTEST) is signed RSASSA-SHA256 by the runtime data's %s; %s", len(q.Raw), AKKeyID, a)

	q.PCRs = tpm.PCRs{tpm2.TPMAlgSHA256: {}}
	for i, v := range tq.PCRs {
		q.PCRs[tpm2.TPMAlgSHA256][i] = v
	}
	pcrs, err := tpm.CheckPCRDigest(q)
	if err != nil {
		checks.Fail("vtpm.pcr_digest", err)
	} else {
		checks.Pass("vtpm.pcr_digest", "the supplied SHA-256 PCR values hash to the signed pcrDigest %s", hex.EncodeToString(q.Info.PCRDigest.Buffer))
	}
	got := q.Attest.ExtraData.Buffer
	switch {
	case nonce == nil:
		checks.Skip("nonce", "not checked: no nonce was given; the vTPM quote may be a replay (extraData is %x)", got)
	case len(nonce) > maxExtraData:
		checks.Fail("nonce", fmt.Errorf("%w: the nonce is %d bytes; a quote's extraData (TPM2B_DATA) holds at most %d, sizeof(TPMT_HA) with SHA-512 (TPM 2.0 Part 2, section 10.4.3): no vTPM quote can carry it", ErrNonce, len(nonce), maxExtraData))
	case !bytes.Equal(got, nonce):
		checks.Fail("nonce", fmt.Errorf("%w: vTPM quote extraData is %x, want %x", ErrNonce, got, nonce))
	default:
		checks.Pass("nonce", "vTPM quote extraData equals the nonce %x", nonce)
	}
	var log *tcg.Log
	switch {
	case err != nil:
		skipLog("not replayed: the PCR values are not the quoted ones")
		return nil, nil, checks.List, checks.Err
	case len(eventLog) == 0:
		skipLog("no event log: the PCR values are reported, not explained (give the vTPM's binary_bios_measurements beside the evidence)")
	default:
		l, detail, err := replayLog(eventLog, pcrs)
		if err != nil {
			checks.Fail("vtpm.eventlog.replay", err)
		} else {
			log = l
			checks.Pass("vtpm.eventlog.replay", "%s", detail)
		}
	}
	return pcrs, log, checks.List, checks.Err
}
