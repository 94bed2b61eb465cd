package testutil

import (
	"bytes"
	"crypto/x509"
	"testing"

	"github.com/assay-dev/assay/verifier/sevsnp"
)

// SNPGuest is a fake SEV-SNP guest on a test AMD PKI: it signs version 3
// Genoa reports carrying the report data it is given, with a fixed
// measurement, policy and TCB that its VCEK certifies. Tests of the
// service and the attester use it where a real guest would call the PSP.
type SNPGuest struct {
	PKI         *AMDPKI
	VEK         VEK
	Measurement [48]byte
	// Policy is the guest policy; the default 0x30000 is SMT allowed, no
	// debug, no migration agent.
	Policy uint64
	tcb    sevsnp.TCB
	hwid   []byte
}

// NewSNPGuest makes a Genoa guest with measurement 0xAB… on a fresh PKI.
func NewSNPGuest(t testing.TB) *SNPGuest {
	t.Helper()
	pki := NewAMDPKI(t, sevsnp.Genoa, false)
	g := &SNPGuest{PKI: pki, Policy: 0x30000, tcb: sevsnp.TCB{Bootloader: 9, TEE: 0, SNP: 23, Microcode: 72},
		hwid: bytes.Repeat([]byte{0xC5}, 64)}
	copy(g.Measurement[:], bytes.Repeat([]byte{0xAB}, 48))
	g.VEK = pki.IssueVEK(t, VEKOptions{HWID: g.hwid, TCB: g.tcb})
	return g
}

// Report returns a signed report whose REPORT_DATA is reportData
// zero-padded to 64 bytes; edit, when not nil, changes fields before
// signing.
func (g *SNPGuest) Report(t testing.TB, reportData []byte, edit func(*sevsnp.Report)) []byte {
	t.Helper()
	raw, err := sevsnp.EncodeTCB(sevsnp.Genoa, g.tcb)
	if err != nil {
		t.Fatal(err)
	}
	r := &sevsnp.Report{
		Version: 3, Policy: g.Policy, SignatureAlgo: 1,
		CurrentTCB: raw, ReportedTCB: raw, CommittedTCB: raw, LaunchTCB: raw,
		CPUIDFamID: 0x19, CPUIDModID: 0x11, CPUIDStep: 1, Measurement: g.Measurement,
	}
	copy(r.ChipID[:], g.hwid)
	copy(r.ReportData[:], reportData)
	if edit != nil {
		edit(r)
	}
	return SignReport(t, r, g.VEK.Key)
}

// Collateral is the VCEK and ASK as PEM, as a guest's certificate table
// or a KDS cache would supply them.
func (g *SNPGuest) Collateral() []byte { return PEM(g.VEK.Cert, g.PKI.ASK) }

// Roots are the trust anchors that replace AMD's ARKs for this guest.
func (g *SNPGuest) Roots() []*x509.Certificate { return []*x509.Certificate{g.PKI.ARK} }
