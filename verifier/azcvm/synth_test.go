package azcvm_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/internal/eventlog/uefi"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/azcvm"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// No Azure sample of the shared corpus ships a TCG event log, and none of
// the corpus' Azure AK certificates (tpm/azure/) belongs to an HCL report
// of the corpus: the private keys of real evidence are out of reach. The
// tests of the event log replay and of the AK certificate therefore run on
// a synthetic Azure SEV-SNP CVM: a fake SNP guest on the test AMD PKI
// (internal/testutil) signs the HCL report's hardware report, whose
// REPORT_DATA binds runtime data naming an AK generated here; that AK
// signs a vTPM quote over PCR values that an event log built here
// replays to. Every link is the real format; only the keys are the test's.

// synthAt is the verification time of synthetic evidence: inside the test
// AMD PKI's validity (2020 to 2045).
var synthAt = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

type synthVM struct {
	guest   *testutil.SNPGuest
	ak      *rsa.PrivateKey
	runtime []byte
	hcl     []byte
}

func newSynthVM(t testing.TB) *synthVM {
	t.Helper()
	ak, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	vm := &synthVM{guest: testutil.NewSNPGuest(t), ak: ak}
	vm.runtime = runtimeData(t, &ak.PublicKey)
	vm.hcl = vm.hclReport(t, vm.runtime)
	return vm
}

// runtimeData is the HCL runtime data JSON naming ak as HCLAkPub.
func runtimeData(t testing.TB, ak *rsa.PublicKey) []byte {
	t.Helper()
	jwk := func(kid string, k *rsa.PublicKey) map[string]any {
		return map[string]any{"kid": kid, "kty": "RSA", "key_ops": []string{"sign"},
			"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	}
	b, err := json.Marshal(map[string]any{
		"keys":             []any{jwk("HCLAkPub", ak)},
		"vm-configuration": map[string]any{"console-enabled": false, "secure-boot": true, "tpm-enabled": true, "vmUniqueId": "00000000-0000-0000-0000-000000000001"},
		"user-data":        hex.EncodeToString(make([]byte, 64)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hclReport lays out an HCL report (see abi.go): header, the guest's SNP
// report with REPORT_DATA = SHA-256 of the runtime data, IGVM_REQUEST_DATA,
// the runtime data and zero fill.
func (vm *synthVM) hclReport(t testing.TB, runtime []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(runtime)
	le := binary.LittleEndian
	var b []byte
	b = append(b, "HCLA"...)
	b = le.AppendUint32(b, 2)    // version
	b = le.AppendUint32(b, 1184) // report_size
	b = le.AppendUint32(b, 0)    // request_type
	b = le.AppendUint32(b, 0)    // status
	b = append(b, make([]byte, 12)...)
	b = append(b, vm.guest.Report(t, sum[:], nil)...)
	b = le.AppendUint32(b, uint32(20+len(runtime))) // data_size
	b = le.AppendUint32(b, 1)                       // version
	b = le.AppendUint32(b, azcvm.ReportTypeSNP)
	b = le.AppendUint32(b, azcvm.HashSHA256)
	b = le.AppendUint32(b, uint32(len(runtime)))
	b = append(b, runtime...)
	return append(b, make([]byte, 2600-len(b))...)
}

// quote makes the vTPM quote of SHA-256 PCRs 0-23 with extraData nonce,
// signed RSASSA-SHA256 by the AK, as Trustee carries it.
func (vm *synthVM) quote(t testing.TB, pcrs [24][]byte, nonce []byte) *azcvm.TPMQuote {
	t.Helper()
	h := sha256.New()
	for _, p := range pcrs {
		h.Write(p)
	}
	att := tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestQuote,
		QualifiedSigner: tpm2.TPM2BName{Buffer: append([]byte{0x00, 0x0b}, bytes.Repeat([]byte{0x5a}, 32)...)},
		ExtraData:       tpm2.TPM2BData{Buffer: nonce},
		ClockInfo:       tpm2.TPMSClockInfo{Clock: 1000, Safe: true},
		FirmwareVersion: 0x2020,
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestQuote, &tpm2.TPMSQuoteInfo{
			PCRSelect: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: []byte{0xff, 0xff, 0xff}}}},
			PCRDigest: tpm2.TPM2BDigest{Buffer: h.Sum(nil)},
		}),
	}
	msg := tpm2.Marshal(att)
	d := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, vm.ak, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return &azcvm.TPMQuote{Message: msg, Signature: sig, PCRs: pcrs[:]}
}

// evidence is Trustee az-snp-vtpm JSON of the HCL report and a quote.
func (vm *synthVM) evidence(t testing.TB, pcrs [24][]byte, nonce []byte) []byte {
	t.Helper()
	h, err := azcvm.ParseHCL(vm.hcl)
	if err != nil {
		t.Fatal(err)
	}
	return azcvm.Marshal(&azcvm.Evidence{Format: azcvm.FormatTrusteeSNP, HCL: h, Quote: vm.quote(t, pcrs, nonce)})
}

// snpOptions verify the guest's report on the test AMD PKI.
func snpOptions(vm *synthVM) sevsnp.Options {
	return sevsnp.Options{Roots: vm.guest.Roots(), Certificates: vm.certificates()}
}

// certificates are the test VCEK and ASK, as given beside the evidence.
func (vm *synthVM) certificates() []*x509.Certificate {
	return []*x509.Certificate{vm.guest.VEK.Cert, vm.guest.PKI.ASK}
}

// eventLog is a crypto-agile TCG event log with SHA-1 and SHA-256 banks,
// and the SHA-256 PCR values it replays to (PCRs it does not extend are
// zero, PCR 10 holds an IMA-like value the firmware log does not explain).
type eventLog struct {
	raw  []byte
	pcrs [24][]byte
	// offsets are where each event (after the Spec ID header, #0) starts.
	offsets []int
}

type logEvent struct {
	pcr  uint32
	typ  uint32
	data []byte
	// measured is what the digests are of; nil means data.
	measured []byte
}

// PFP 1.06 event types used below.
const (
	evSeparator                 = 0x4
	evIPL                       = 0xd
	evEFIVariableDriverConfig   = 0x80000001
	evEFIBootServicesApp        = 0x80000003
	evEFIPlatformFirmwareBlob   = 0x80000008
	evSCRTMVersion              = 0x8
	algSHA1, algSHA256          = 0x0004, 0x000b
	specIDSignature             = "Spec ID Event03\x00"
	secureBootVariableNameChars = 10
)

// secureBootVariable is the UEFI_VARIABLE_DATA of SecureBoot = 1 (PFP 1.06
// section 10.2.6).
func secureBootVariable() []byte {
	var b []byte
	b = append(b, uefi.GlobalVariable[:]...)
	b = binary.LittleEndian.AppendUint64(b, secureBootVariableNameChars)
	b = binary.LittleEndian.AppendUint64(b, 1)
	for _, u := range utf16.Encode([]rune("SecureBoot")) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return append(b, 1)
}

func synthEvents() []logEvent {
	sep := []byte{0, 0, 0, 0}
	evs := []logEvent{
		{pcr: 0, typ: evSCRTMVersion, data: []byte("A\x00z\x00u\x00r\x00e\x00\x00\x00")},
		{pcr: 0, typ: evEFIPlatformFirmwareBlob, data: make([]byte, 16), measured: []byte("the firmware volume")},
		{pcr: 7, typ: evEFIVariableDriverConfig, data: secureBootVariable()},
	}
	for pcr := uint32(0); pcr <= 7; pcr++ {
		evs = append(evs, logEvent{pcr: pcr, typ: evSeparator, data: sep})
	}
	return append(evs,
		logEvent{pcr: 4, typ: evEFIBootServicesApp, data: make([]byte, 32), measured: []byte("shimx64.efi")},
		logEvent{pcr: 9, typ: evIPL, data: []byte("grub_cmd: linux /vmlinuz root=/dev/sda1\x00")},
	)
}

// buildEventLog encodes events (PFP 1.06 sections 10.2.1, 10.2.2,
// 10.4.5.1) and replays them.
func buildEventLog(evs []logEvent) eventLog {
	le := binary.LittleEndian
	var l eventLog
	spec := []byte(specIDSignature)
	spec = le.AppendUint32(spec, 0) // platformClass
	spec = append(spec, 0, 2, 2, 2) // specVersionMinor, Major, Errata, uintnSize
	spec = le.AppendUint32(spec, 2) // numberOfAlgorithms
	spec = le.AppendUint16(spec, algSHA1)
	spec = le.AppendUint16(spec, 20)
	spec = le.AppendUint16(spec, algSHA256)
	spec = le.AppendUint16(spec, 32)
	spec = append(spec, 0) // vendorInfoSize
	l.raw = le.AppendUint32(l.raw, 0)
	l.raw = le.AppendUint32(l.raw, 3) // EV_NO_ACTION
	l.raw = append(l.raw, make([]byte, 20)...)
	l.raw = le.AppendUint32(l.raw, uint32(len(spec)))
	l.raw = append(l.raw, spec...)

	for i := range l.pcrs {
		l.pcrs[i] = make([]byte, 32)
	}
	l.pcrs[10] = bytes.Repeat([]byte{0x1a}, 32)
	for _, e := range evs {
		m := e.measured
		if m == nil {
			m = e.data
		}
		d1, d256 := sha1.Sum(m), sha256.Sum256(m)
		l.offsets = append(l.offsets, len(l.raw))
		l.raw = le.AppendUint32(l.raw, e.pcr)
		l.raw = le.AppendUint32(l.raw, e.typ)
		l.raw = le.AppendUint32(l.raw, 2)
		l.raw = le.AppendUint16(l.raw, algSHA1)
		l.raw = append(l.raw, d1[:]...)
		l.raw = le.AppendUint16(l.raw, algSHA256)
		l.raw = append(l.raw, d256[:]...)
		l.raw = le.AppendUint32(l.raw, uint32(len(e.data)))
		l.raw = append(l.raw, e.data...)
		ext := sha256.Sum256(append(bytes.Clone(l.pcrs[e.pcr]), d256[:]...))
		l.pcrs[e.pcr] = ext[:]
	}
	return l
}

// sha256DigestOffset is where an event's SHA-256 digest starts, from the
// event's offset: pcrIndex, eventType, count, SHA-1 algorithm and digest,
// SHA-256 algorithm.
const sha256DigestOffset = 4 + 4 + 4 + 2 + 20 + 2

// AK certificates of a test "Azure" vTPM CA: a root, a "Global Virtual TPM
// CA" intermediate and an AK certificate with the TCG AK extended key
// usage, as Azure's have. Trusted only where a test passes the root.
type akPKI struct {
	root, inter *x509.Certificate
	interKey    *rsa.PrivateKey
}

func newAKPKI(t testing.TB) *akPKI {
	t.Helper()
	rootKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	interKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ca := func(cn string, serial int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Assay test"}},
			NotBefore: synthAt.AddDate(-2, 0, 0), NotAfter: synthAt.AddDate(2, 0, 0), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	rootT := ca("Test Virtual TPM Root Certificate Authority", 1)
	root := mustIssue(t, rootT, rootT, &rootKey.PublicKey, rootKey)
	inter := mustIssue(t, ca("Test Global Virtual TPM CA - 01", 2), root, &interKey.PublicKey, rootKey)
	return &akPKI{root: root, inter: inter, interKey: interKey}
}

// issue certifies key as an AK, valid around synthAt.
func (p *akPKI) issue(t testing.TB, key *rsa.PublicKey) *x509.Certificate {
	t.Helper()
	return mustIssue(t, &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "0123456789ab.ConfidentialVM.Azure.test"},
		NotBefore: synthAt.AddDate(0, -1, 0), NotAfter: synthAt.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{2, 23, 133, 8, 3}},
	}, p.inter, key, p.interKey)
}

func mustIssue(t testing.TB, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
