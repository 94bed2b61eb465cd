package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/internal/testutil"
)

// hwModuleNameSAN is a subjectAltName holding one otherName
// hardwareModuleName (RFC 4108, section 5) with the TPM's hardware type
// OID (2.23.133.1.2, TCG) and a serial number.
func hwModuleNameSAN(t *testing.T, serial string) []byte {
	t.Helper()
	hmn, err := asn1.Marshal(struct {
		Type   asn1.ObjectIdentifier
		Serial []byte
	}{asn1.ObjectIdentifier{2, 23, 133, 1, 2}, []byte(serial)})
	if err != nil {
		t.Fatal(err)
	}
	oid, err := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 4})
	if err != nil {
		t.Fatal(err)
	}
	// otherName [0] IMPLICIT SEQUENCE {type-id, value [0] EXPLICIT}.
	value, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: hmn})
	other, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oid, value...)})
	san, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: other})
	if err != nil {
		t.Fatal(err)
	}
	return san
}

// persistKey creates a primary in the endorsement hierarchy from
// template and persists it at h; it returns the public key.
func persistKey(t *testing.T, dev string, template tpm2.TPMTPublic, h tpm2.TPMHandle) crypto.PublicKey {
	t.Helper()
	tp, err := attester.OpenTPM(t.Context(), dev)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	k, err := testutil.PersistPrimary(t, tp, template, h)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAttestTPMIDevID: a device maker's test CA issues an IAK certificate
// (tcg-kp-AIKCertificate, hardwareModuleName) and an IDevID certificate
// (same hardware module) for keys persisted in swtpm; assay attest tpm
// quotes with the IAK and has it certify the IDevID; assay verify --roots
// CA affirms with ak.trust, iak.profile, idevid.certificate and
// idevid.certify passing; an IDevID certificate of another device and a
// changed TPM2_Certify are rejected by the check that judges each.
func TestAttestTPMIDevID(t *testing.T) {
	port := testutil.StartSWTPMServer(t)
	dev := "swtpm:127.0.0.1:" + strconv.Itoa(port)
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	const iakH, idevidH = tpm2.TPMHandle(0x81020001), tpm2.TPMHandle(0x81020002)
	iakKey := persistKey(t, dev, attester.AKTemplate, iakH)
	idevidTmpl := attester.AKTemplate
	idevidTmpl.ObjectAttributes.Restricted = false // IDevID: an ordinary signing key
	idevidKey := persistKey(t, dev, idevidTmpl, idevidH)

	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Device Maker IDevID CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(name string, key crypto.PublicKey, serial string, eku []asn1.ObjectIdentifier) {
		t.Helper()
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature, UnknownExtKeyUsage: eku,
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: hwModuleNameSAN(t, serial)}}}, caCert, key, caKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path(name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	aik := []asn1.ObjectIdentifier{{2, 23, 133, 8, 3}}
	issue("iak", iakKey, "TPM-SERIAL-0001", aik)
	issue("idevid", idevidKey, "TPM-SERIAL-0001", nil)
	issue("idevid-other-device", idevidKey, "TPM-SERIAL-0002", nil)
	issue("iak-no-eku", iakKey, "TPM-SERIAL-0001", nil)
	if err := os.WriteFile(path("ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}

	nonce := "1d1d1d1d"
	attest := func(out, idevidCert string) {
		t.Helper()
		if code, _, errs := run(t, "attest", "tpm", "--tpm", dev, "--nonce", nonce, "--ak-handle", "0x81020001", "--ak-cert", path("iak.pem"),
			"--idevid-handle", "0x81020002", "--idevid-cert", idevidCert, "-o", out); code != 0 {
			t.Fatalf("attest tpm: exit %d: %s", code, errs)
		}
	}
	verify := func(file string) (int, verifyOut) {
		t.Helper()
		code, out, errs := run(t, "verify", "--offline", "-o", "json", "--roots", path("ca.pem"), "--nonce", nonce, file)
		if code == ExitUsage {
			t.Fatalf("verify: %s", errs)
		}
		return code, parseVerifyOut(t, out)
	}
	ev := path("evidence.json")
	attest(ev, path("idevid.pem"))
	code, res := verify(ev)
	if code != ExitAffirming || len(res.failed()) != 0 {
		t.Fatalf("verify: exit %d, failed %v: %+v", code, res.failed(), res.Checks)
	}
	names := map[string]bool{}
	for _, c := range res.Checks {
		names[c.Name] = true
	}
	for _, n := range []string{"ak.trust", "iak.profile", "idevid.certificate", "idevid.certify"} {
		if !names[n] {
			t.Errorf("check %s did not run: %+v", n, res.Checks)
		}
	}

	other := path("other.json")
	attest(other, path("idevid-other-device.pem"))
	if code, res := verify(other); code != ExitRejected || strings.Join(res.failed(), ",") != "idevid.certificate" {
		t.Errorf("IDevID certificate of another device: exit %d, failed %v", code, res.failed())
	}
	// The IAK's certificate as the IDevID's: another key.
	wrong := path("wrong.json")
	attest(wrong, path("iak.pem"))
	if code, res := verify(wrong); code != ExitRejected || strings.Join(res.failed(), ",") != "idevid.certificate" {
		t.Errorf("IAK certificate as the IDevID's: exit %d, failed %v", code, res.failed())
	}
	// An IAK certificate without tcg-kp-AIKCertificate.
	noEKU := path("no-eku.json")
	if code, _, errs := run(t, "attest", "tpm", "--tpm", dev, "--nonce", nonce, "--ak-handle", "0x81020001", "--ak-cert", path("iak-no-eku.pem"),
		"--idevid-handle", "0x81020002", "--idevid-cert", path("idevid.pem"), "-o", noEKU); code != 0 {
		t.Fatalf("attest tpm: exit %d: %s", code, errs)
	}
	if code, res := verify(noEKU); code != ExitRejected || strings.Join(res.failed(), ",") != "iak.profile" {
		t.Errorf("IAK certificate without the AIK EKU: exit %d, failed %v", code, res.failed())
	}
	// A flipped byte of the certify structure.
	raw, _ := os.ReadFile(ev)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	cf := m["idevid"].(map[string]any)["certify"].(map[string]any)
	a, _ := base64.StdEncoding.DecodeString(cf["attest"].(string))
	a[len(a)-1] ^= 1 // the last byte of the certified Qualified Name
	cf["attest"] = base64.StdEncoding.EncodeToString(a)
	b, _ := json.Marshal(m)
	flipped := path("flipped.json")
	if err := os.WriteFile(flipped, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, res := verify(flipped); code != ExitRejected || strings.Join(res.failed(), ",") != "idevid.certify" {
		t.Errorf("flipped certify: exit %d, failed %v", code, res.failed())
	}
}
