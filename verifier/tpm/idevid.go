package tpm

import (
	"bytes"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/assay-dev/assay/attest"
)

// IEEE 802.1AR device identity in a TPM: TCG "TPM 2.0 Keys for Device
// Identity and Attestation" (the "IDevID profile" below). The IAK is a
// restricted signing key (an AK) certified by the device maker; the
// IDevID is a non-restricted signing key of the same TPM, certified too,
// and TPM2_Certify by the IAK proves the two are in one TPM.
var (
	// tcg-kp-AIKCertificate, the extended key usage of an IAK certificate.
	oidAIKCertificate = encasn1.ObjectIdentifier{2, 23, 133, 8, 3}
	// id-on-hardwareModuleName (RFC 4108, section 5): the otherName that
	// names the device's hardware module and its serial number.
	oidHardwareModuleName = encasn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 4}
)

// Certify is one TPM2_Certify (TPM 2.0 Part 3, section 18.2): the
// TPMS_ATTEST of type TPM_ST_ATTEST_CERTIFY as signed, and its signature.
type Certify struct {
	Raw    []byte
	Attest *tpm2.TPMSAttest
	// Info is Attest.Attested.certify: the certified object's Name and
	// Qualified Name.
	Info   *tpm2.TPMSCertifyInfo
	RawSig []byte
	Sig    *tpm2.TPMTSignature
}

// ParseCertify decodes a TPMS_ATTEST of type TPM_ST_ATTEST_CERTIFY
// (canonical, magic TPM_GENERATED_VALUE) and its TPMT_SIGNATURE. No
// crypto.
func ParseCertify(attestB, sig []byte) (*Certify, error) {
	if len(attestB) < 6 {
		return nil, fmt.Errorf("%w: certify TPMS_ATTEST: %d bytes", ErrMalformed, len(attestB))
	}
	if m := binary.BigEndian.Uint32(attestB); m != uint32(tpm2.TPMGeneratedValue) {
		return nil, fmt.Errorf("%w: certify TPMS_ATTEST magic is %#08x, want TPM_GENERATED_VALUE", ErrMalformed, m)
	}
	if t := binary.BigEndian.Uint16(attestB[4:]); t != uint16(tpm2.TPMSTAttestCertify) {
		return nil, fmt.Errorf("%w: certify TPMS_ATTEST type is %#04x, want TPM_ST_ATTEST_CERTIFY %#04x", ErrMalformed, t, uint16(tpm2.TPMSTAttestCertify))
	}
	a, err := unmarshal[tpm2.TPMSAttest]("certify TPMS_ATTEST", attestB)
	if err != nil {
		return nil, err
	}
	info, err := a.Attested.Certify()
	if err != nil {
		return nil, fmt.Errorf("%w: certify TPMS_ATTEST: %v", ErrMalformed, err)
	}
	s, err := ParseSignature(sig)
	if err != nil {
		return nil, fmt.Errorf("certify signature: %w", err)
	}
	return &Certify{Raw: bytes.Clone(attestB), Attest: a, Info: info, RawSig: bytes.Clone(sig), Sig: s}, nil
}

// HardwareModuleName is RFC 4108's HardwareModuleName: the hardware
// type and serial number a subjectAltName otherName names.
type HardwareModuleName struct {
	Type   encasn1.ObjectIdentifier
	Serial []byte
}

// ParseHardwareModuleName finds the hardwareModuleName otherName in a
// certificate's subjectAltName; nil, nil when there is none.
func ParseHardwareModuleName(c *x509.Certificate) (*HardwareModuleName, error) {
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidSubjectAltName) {
			continue
		}
		names, err := generalNames(e.Value)
		if err != nil {
			return nil, err
		}
		otherName := asn1.Tag(0).ContextSpecific().Constructed()
		for !names.Empty() {
			gn, tag, err := nextGeneralName(&names)
			if err != nil {
				return nil, err
			}
			if tag != otherName {
				continue
			}
			var typeID encasn1.ObjectIdentifier
			var value, hmn cryptobyte.String
			if !gn.ReadASN1ObjectIdentifier(&typeID) || !gn.ReadASN1(&value, asn1.Tag(0).ContextSpecific().Constructed()) {
				return nil, fmt.Errorf("%w: subjectAltName otherName", ErrMalformed)
			}
			if !typeID.Equal(oidHardwareModuleName) {
				continue
			}
			var h HardwareModuleName
			var serial cryptobyte.String
			if !value.ReadASN1(&hmn, asn1.SEQUENCE) || !value.Empty() || !hmn.ReadASN1ObjectIdentifier(&h.Type) ||
				!hmn.ReadASN1(&serial, asn1.OCTET_STRING) || !hmn.Empty() {
				return nil, fmt.Errorf("%w: hardwareModuleName is not SEQUENCE {hwType OID, hwSerialNum OCTET STRING}", ErrMalformed)
			}
			h.Serial = bytes.Clone(serial)
			return &h, nil
		}
	}
	return nil, nil
}

// IDevID is a device identity key with its certificate and the IAK's
// TPM2_Certify of it.
type IDevID struct {
	// Public is the IDevID key's TPMT_PUBLIC.
	Public *tpm2.TPMTPublic
	// Name is its Name (nameAlg || H(TPMT_PUBLIC)).
	Name []byte
	// Cert is the IDevID certificate; nil when none was given.
	Cert    *x509.Certificate
	Certify *Certify
}

// ParseIDevID reads an IDevID's TPM2B_PUBLIC, optional DER certificate
// and the TPM2_Certify of it. No crypto.
func ParseIDevID(public, certDER, certifyAttest, certifySig []byte) (*IDevID, error) {
	pub, err := parsePublic("IDevID", public)
	if err != nil {
		return nil, err
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: IDevID Name: %v", ErrMalformed, err)
	}
	d := &IDevID{Public: pub, Name: name.Buffer}
	if len(certDER) > 0 {
		if d.Cert, err = x509.ParseCertificate(certDER); err != nil {
			return nil, fmt.Errorf("%w: IDevID certificate: %v", ErrMalformed, err)
		}
	}
	if d.Certify, err = ParseCertify(certifyAttest, certifySig); err != nil {
		return nil, err
	}
	return d, nil
}

// parsePublic reads a TPM2B_PUBLIC canonically.
func parsePublic(what string, b []byte) (*tpm2.TPMTPublic, error) {
	p2b, err := unmarshal[tpm2.TPM2BPublic](what+" TPM2B_PUBLIC", b)
	if err != nil {
		return nil, err
	}
	pub, err := p2b.Contents()
	if err != nil {
		return nil, fmt.Errorf("%w: %s TPM2B_PUBLIC: %v", ErrMalformed, what, err)
	}
	return pub, nil
}

// IDevIDClaims are what the device identity checks established.
type IDevIDClaims struct {
	// HardwareType and HardwareSerial are the IAK certificate's
	// hardwareModuleName (hwType as dotted OID, hwSerialNum hex).
	HardwareType   string     `json:"hardware_type,omitempty"`
	HardwareSerial string     `json:"hardware_serial,omitempty"`
	IDevIDName     string     `json:"idevid_name"`
	IDevIDCert     CertClaims `json:"idevid_certificate"`
}

// qualifiedNameEndorsementPrimary is the Qualified Name of a primary
// object of the endorsement hierarchy (TPM 2.0 Part 1, section 16: QN(B)
// = nameAlg || H(QN(parent) || Name(B)), and a hierarchy's QN is its
// handle), which IAKs are (IDevID profile: IAK and IDevID keys are made
// in the endorsement hierarchy).
func qualifiedNameEndorsementPrimary(ak *AK) ([]byte, error) {
	if ak.Public == nil {
		return nil, fmt.Errorf("the IAK is not known as a TPMT_PUBLIC")
	}
	h, err := ak.Public.NameAlg.Hash()
	if err != nil {
		return nil, err
	}
	w := h.New()
	w.Write(binary.BigEndian.AppendUint32(nil, uint32(tpm2.TPMRHEndorsement)))
	w.Write(ak.Name)
	return append(binary.BigEndian.AppendUint16(nil, uint16(ak.Public.NameAlg)), w.Sum(nil)...), nil
}

// IDevIDOptions are the inputs VerifyIDevID trusts.
type IDevIDOptions struct {
	// Roots are the device maker's CAs for IAK and IDevID certificates;
	// nil fails idevid.certificate (there is no embedded default).
	Roots         []*x509.Certificate
	Intermediates []*x509.Certificate
	// Now is the verification time; nil means time.Now.
	Now func() time.Time
	// Nonce is the expected extraData of the TPM2_Certify; nil leaves it
	// unchecked, and the check says so.
	Nonce []byte
}

// VerifyIDevID checks a device identity against the IAK that signed the
// quote (whose certificate ak.trust verified):
//
//   - iak.profile: the IAK certificate has key usage digitalSignature,
//     extended key usage tcg-kp-AIKCertificate (2.23.133.8.3) and a
//     hardwareModuleName in its subjectAltName (IDevID profile, IAK
//     certificate);
//   - idevid.certificate: the IDevID certificate chains to Roots at Now,
//     certifies the IDevID public key, has key usage digitalSignature, and
//     names the same hardware module (type and serial) as the IAK's; the
//     IDevID is a signing key, fixedTPM and fixedParent;
//   - idevid.certify: the TPM2_Certify is signed by the IAK, its
//     certified Name is the IDevID public area's, its qualifiedSigner is
//     the IAK's Qualified Name as a primary of the endorsement hierarchy,
//     and its extraData is the nonce.
func VerifyIDevID(iak *AK, iakCert *x509.Certificate, d *IDevID, o IDevIDOptions) (*IDevIDClaims, []attest.Check, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	at := now()
	var checks attest.Checks
	cl := &IDevIDClaims{IDevIDName: hex.EncodeToString(d.Name)}
	var iakHW *HardwareModuleName
	switch {
	case iakCert == nil:
		checks.Fail("iak.profile", fmt.Errorf("%w: no IAK certificate: the AK's certificate is the IAK's", ErrCollateralMissing))
	default:
		hw, err := ParseHardwareModuleName(iakCert)
		iakHW = hw // compared with the IDevID's whatever else the profile says
		switch {
		case err != nil:
			checks.Fail("iak.profile", err)
		case iakCert.KeyUsage != 0 && iakCert.KeyUsage&x509.KeyUsageDigitalSignature == 0:
			checks.Fail("iak.profile", fmt.Errorf("%w: IAK certificate %s lacks key usage digitalSignature", ErrChain, certID(iakCert)))
		case !hasEKU(iakCert, oidAIKCertificate):
			checks.Fail("iak.profile", fmt.Errorf("%w: IAK certificate %s lacks extended key usage tcg-kp-AIKCertificate (2.23.133.8.3)", ErrChain, certID(iakCert)))
		case hw == nil:
			checks.Fail("iak.profile", fmt.Errorf("%w: IAK certificate %s has no hardwareModuleName (1.3.6.1.5.5.7.8.4) in its subjectAltName", ErrChain, certID(iakCert)))
		default:
			cl.HardwareType, cl.HardwareSerial = hw.Type.String(), hex.EncodeToString(hw.Serial)
			checks.Pass("iak.profile", "IAK certificate %s: digitalSignature, tcg-kp-AIKCertificate, hardware module %s serial %x", certID(iakCert), hw.Type, hw.Serial)
		}
	}
	if err := idevidCertificate(d, iakHW, o, at); err != nil {
		checks.Fail("idevid.certificate", err)
	} else {
		cl.IDevIDCert = certClaims(d.Cert)
		checks.Pass("idevid.certificate", "IDevID certificate %s chains to the device CA at %s, certifies the IDevID key (name %x) of the IAK's hardware module", certID(d.Cert), at.UTC().Format(time.RFC3339), d.Name)
	}
	if err := idevidCertify(iak, d, o.Nonce); err != nil {
		checks.Fail("idevid.certify", err)
	} else {
		nonce := "extraData unchecked: no nonce given"
		if o.Nonce != nil {
			nonce = "extraData is the nonce"
		}
		checks.Pass("idevid.certify", "TPM2_Certify by the IAK: the IDevID (name %x) is in the IAK's TPM; %s", d.Name, nonce)
	}
	if checks.Err != nil {
		return nil, checks.List, checks.Err
	}
	return cl, checks.List, nil
}

func idevidCertificate(d *IDevID, iakHW *HardwareModuleName, o IDevIDOptions, at time.Time) error {
	c := d.Cert
	if c == nil {
		return fmt.Errorf("%w: no IDevID certificate", ErrCollateralMissing)
	}
	if len(o.Roots) == 0 {
		return fmt.Errorf("%w: no device CA (--roots) to verify the IDevID certificate %s against", ErrChain, certID(c))
	}
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range o.Roots {
		rp.AddCert(r)
	}
	for _, i := range o.Intermediates {
		ip.AddCert(i)
	}
	// A subjectAltName holding only a hardwareModuleName, critical when
	// the subject is empty (IEEE 802.1AR), is one crypto/x509 does not
	// process; it is read here.
	if _, err := sanProcessed(c).Verify(x509.VerifyOptions{Roots: rp, Intermediates: ip, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("%w: IDevID certificate %s at %s: %v", ErrChain, certID(c), at.UTC().Format(time.RFC3339), err)
	}
	key, err := tpm2.Pub(*d.Public)
	if err != nil {
		return fmt.Errorf("%w: IDevID public: %v", ErrMalformed, err)
	}
	if !sameKey(key, c.PublicKey) {
		return fmt.Errorf("%w: the IDevID certificate %s certifies another key than the IDevID public area", ErrChain, certID(c))
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: IDevID certificate %s lacks key usage digitalSignature", ErrChain, certID(c))
	}
	a := d.Public.ObjectAttributes
	if !a.SignEncrypt || a.Decrypt || !a.FixedTPM || !a.FixedParent {
		return fmt.Errorf("%w: the IDevID is not a signing key fixed to its TPM (sign %v, decrypt %v, fixedTPM %v, fixedParent %v)", ErrChain, a.SignEncrypt, a.Decrypt, a.FixedTPM, a.FixedParent)
	}
	hw, err := ParseHardwareModuleName(c)
	if err != nil {
		return err
	}
	if iakHW == nil {
		return fmt.Errorf("%w: the IAK certificate names no hardware module to compare the IDevID certificate %s with", ErrChain, certID(c))
	}
	if hw == nil || !hw.Type.Equal(iakHW.Type) || !bytes.Equal(hw.Serial, iakHW.Serial) {
		return fmt.Errorf("%w: the IDevID certificate %s names hardware module %v, the IAK certificate %v: not the same device", ErrChain, certID(c), hw, iakHW)
	}
	return nil
}

func idevidCertify(iak *AK, d *IDevID, nonce []byte) error {
	cf := d.Certify
	if err := VerifySignature(iak, cf.Sig, cf.Raw); err != nil {
		return err
	}
	if !bytes.Equal(cf.Info.Name.Buffer, d.Name) {
		return fmt.Errorf("%w: TPM2_Certify certifies the object named %x, the IDevID's name is %x", ErrSignature, cf.Info.Name.Buffer, d.Name)
	}
	qn, err := qualifiedNameEndorsementPrimary(iak)
	if err != nil {
		return fmt.Errorf("%w: qualifiedSigner: %v", ErrMalformed, err)
	}
	if !bytes.Equal(cf.Attest.QualifiedSigner.Buffer, qn) {
		return fmt.Errorf("%w: TPM2_Certify's qualifiedSigner is %x, the IAK's Qualified Name as an endorsement primary is %x", ErrSignature, cf.Attest.QualifiedSigner.Buffer, qn)
	}
	if nonce != nil && !bytes.Equal(cf.Attest.ExtraData.Buffer, nonce) {
		return fmt.Errorf("%w: TPM2_Certify extraData is %x, want %x", ErrNonce, cf.Attest.ExtraData.Buffer, nonce)
	}
	return nil
}
