package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// Credential activation (TPM 2.0 Part 1, section 24 "Credential
// Protection"; Part 3, sections 12.5 TPM2_ActivateCredential and 12.6
// TPM2_MakeCredential; TCG "TPM 2.0 Keys for Device Identity and
// Attestation", section 6): the verifier encrypts a secret to the EK,
// bound to the AK's Name; only a TPM that holds the EK private key and has
// an object of that Name loaded recovers it. A returned secret therefore
// shows that the AK lives in the same TPM as the EK.

// EK is an endorsement key's public part.
type EK struct {
	// Public is the EK's TPMT_PUBLIC: as given (TPM2B_PUBLIC), or the TCG
	// default template with the key filled in (from a certificate or a
	// PEM key).
	Public *tpm2.TPMTPublic
	Key    crypto.PublicKey
	// Cert is the EK certificate, when the EK came as one; nil otherwise.
	Cert *x509.Certificate
}

// SHA256 is the SHA-256 of the EK's DER SubjectPublicKeyInfo: how an
// enrolment names the EK.
func (ek *EK) SHA256() []byte {
	der, err := x509.MarshalPKIXPublicKey(ek.Key)
	if err != nil {
		return nil
	}
	s := sha256.Sum256(der)
	return s[:]
}

// ParseEK reads an EK public given as an EK certificate (PEM or DER), a
// TPM2B_PUBLIC or TPMT_PUBLIC (tpm2_createek -u, tpm2_readpublic -o), or
// a PEM PUBLIC KEY (tpm2_createek -f pem). Only RSA 2048 and 3072 and ECC
// NIST P-256 and P-384 EKs are accepted, the keys of the TCG EK templates
// L-1, L-2, H-6 and H-3 (TCG EK Credential Profile 2.x, section 2.2.1.4).
func ParseEK(b []byte) (*EK, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		switch blk.Type {
		case "CERTIFICATE":
			b = blk.Bytes
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: EK public key: %v", ErrMalformed, err)
			}
			return ekFromKey(k, nil)
		default:
			return nil, fmt.Errorf("%w: PEM block %q, want CERTIFICATE or PUBLIC KEY", ErrMalformed, blk.Type)
		}
	}
	if len(b) > 0 && b[0] == 0x30 { // an ASN.1 SEQUENCE: a DER certificate
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("%w: EK certificate: %v", ErrMalformed, err)
		}
		return ekFromKey(c.PublicKey, c)
	}
	if len(b) >= 2 && int(binary.BigEndian.Uint16(b)) == len(b)-2 {
		b = b[2:] // TPM2B_PUBLIC
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: EK TPMT_PUBLIC: %d bytes", ErrMalformed, len(b))
	}
	if t := tpm2.TPMAlgID(binary.BigEndian.Uint16(b)); t != tpm2.TPMAlgRSA && t != tpm2.TPMAlgECC {
		return nil, fmt.Errorf("%w: EK TPMT_PUBLIC type %#04x, want RSA or ECC", ErrMalformed, uint16(t))
	}
	pub, err := unmarshal[tpm2.TPMTPublic]("TPMT_PUBLIC", b)
	if err != nil {
		return nil, err
	}
	k, err := publicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := ekKeyOK(k); err != nil {
		return nil, err
	}
	if a := pub.ObjectAttributes; !a.Restricted || !a.Decrypt || a.SignEncrypt {
		return nil, fmt.Errorf("%w: the EK is not a restricted decryption key (restricted %v, decrypt %v, sign %v)", ErrMalformed, a.Restricted, a.Decrypt, a.SignEncrypt)
	}
	return &EK{Public: pub, Key: k}, nil
}

func publicKey(pub *tpm2.TPMTPublic) (_ crypto.PublicKey, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: TPMT_PUBLIC: %v", ErrMalformed, r)
		}
	}()
	k, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, fmt.Errorf("%w: TPMT_PUBLIC: %v", ErrMalformed, err)
	}
	return k, nil
}

func ekKeyOK(k crypto.PublicKey) error {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n != 2048 && n != 3072 {
			return fmt.Errorf("%w: the EK is RSA %d, want RSA 2048 or 3072", ErrMalformed, n)
		}
		return nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("%w: the EK is ECC %s, want NIST P-256 or P-384", ErrMalformed, k.Curve.Params().Name)
		}
		return nil
	}
	return fmt.Errorf("%w: the EK is %T, want RSA 2048 or 3072, or ECC P-256 or P-384", ErrMalformed, k)
}

// ekFromKey places an EK key in its TCG EK template (EK Credential
// Profile 2.x, section 2.2.1.4): L-1 (RSA 2048) or L-2 (ECC P-256), both
// AES-128-CFB with SHA-256 nameAlg and PolicySecret(TPM_RH_ENDORSEMENT);
// H-6 (RSA 3072) or H-3 (ECC P-384), both AES-256-CFB with SHA-384
// nameAlg. The template's symmetric algorithm and nameAlg determine the
// seed's protection (Part 1, section 24.4); its attributes and authPolicy
// do not, and for H-3 and H-6 are the L templates' attributes and an
// empty policy here (the EK's Name is then not the real one, which
// credential protection never uses). The EK of any other
// template must be given as TPM2B_PUBLIC.
func ekFromKey(k crypto.PublicKey, c *x509.Certificate) (*EK, error) {
	if err := ekKeyOK(k); err != nil {
		return nil, err
	}
	var pub tpm2.TPMTPublic
	switch k := k.(type) {
	case *rsa.PublicKey:
		pub = tpm2.RSAEKTemplate
		parms, err := pub.Parameters.RSADetail()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		p := *parms
		if k.E != 65537 {
			p.Exponent = uint32(k.E)
		}
		size := k.N.BitLen() / 8
		if size != 256 {
			p.KeyBits, p.Symmetric = tpm2.TPMKeyBits(k.N.BitLen()), highRangeSymmetric
			pub.NameAlg, pub.AuthPolicy = tpm2.TPMAlgSHA384, tpm2.TPM2BDigest{}
		}
		pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &p)
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.FillBytes(make([]byte, size))})
	case *ecdsa.PublicKey:
		pub = tpm2.ECCEKTemplate
		e, err := k.ECDH()
		if err != nil {
			return nil, fmt.Errorf("%w: EK: %v", ErrMalformed, err)
		}
		pt := e.Bytes() // 0x04 || X || Y
		n := (len(pt) - 1) / 2
		if k.Curve == elliptic.P384() {
			parms, err := pub.Parameters.ECCDetail()
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			p := *parms
			p.CurveID, p.Symmetric = tpm2.TPMECCNistP384, highRangeSymmetric
			pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &p)
			pub.NameAlg, pub.AuthPolicy = tpm2.TPMAlgSHA384, tpm2.TPM2BDigest{}
		}
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: pt[1 : 1+n]},
			Y: tpm2.TPM2BECCParameter{Buffer: pt[1+n:]},
		})
	}
	return &EK{Public: &pub, Key: k, Cert: c}, nil
}

// highRangeSymmetric is the H-3 and H-6 templates' AES-256-CFB.
var highRangeSymmetric = tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgAES,
	KeyBits: tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(256)),
	Mode:    tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB)}

// MakeCredential is TPM2_MakeCredential done in software (Part 1, section
// 24; go-tpm's tpm2.CreateCredential, which derives the seed, KDFa keys,
// encIdentity and integrity HMAC): it protects secret to ek (an RSA 2048
// or 3072, or ECC P-256 or P-384 public key, taken to be in its TCG EK
// template, ekFromKey),
// bound to akName (TPM2B_NAME.name of the AK: nameAlg || H(TPMT_PUBLIC)).
// credentialBlob is the content of a TPM2B_ID_OBJECT, encryptedSecret of a
// TPM2B_ENCRYPTED_SECRET, as TPM2_ActivateCredential takes them. The
// secret is at most the size of the EK's nameAlg digest (32 bytes).
func MakeCredential(ek crypto.PublicKey, akName, secret []byte) (credentialBlob, encryptedSecret []byte, err error) {
	e, err := ekFromKey(ek, nil)
	if err != nil {
		return nil, nil, err
	}
	return MakeCredentialPublic(e.Public, akName, secret)
}

// MakeCredentialPublic is MakeCredential for an EK given as its
// TPMT_PUBLIC, whatever its template.
func MakeCredentialPublic(ek *tpm2.TPMTPublic, akName, secret []byte) (credentialBlob, encryptedSecret []byte, err error) {
	if err := checkAKName(akName); err != nil {
		return nil, nil, err
	}
	if len(secret) == 0 || len(secret) > sha256.Size {
		return nil, nil, fmt.Errorf("%w: the credential secret is %d bytes, want 1 to %d", ErrMalformed, len(secret), sha256.Size)
	}
	key, err := importEK(ek)
	if err != nil {
		return nil, nil, err
	}
	blob, enc, err := tpm2.CreateCredential(rand.Reader, key, akName, secret)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: TPM2_MakeCredential: %v", ErrMalformed, err)
	}
	return blob, enc, nil
}

func importEK(ek *tpm2.TPMTPublic) (_ tpm2.LabeledEncapsulationKey, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: EK TPMT_PUBLIC: %v", ErrMalformed, r)
		}
	}()
	k, err := tpm2.ImportEncapsulationKey(ek)
	if err != nil {
		return nil, fmt.Errorf("%w: EK TPMT_PUBLIC: %v", ErrMalformed, err)
	}
	return k, nil
}

// checkAKName insists on a Name of a key (Part 1, section 16: a 2-byte
// nameAlg and its digest), not of a handle.
func checkAKName(n []byte) error {
	if len(n) < 2 {
		return fmt.Errorf("%w: AK name is %d bytes", ErrMalformed, len(n))
	}
	h, err := bankHash(tpm2.TPMAlgID(binary.BigEndian.Uint16(n)))
	if err != nil {
		return fmt.Errorf("%w: AK name algorithm %#04x", ErrMalformed, binary.BigEndian.Uint16(n))
	}
	if len(n) != 2+h.Size() {
		return fmt.Errorf("%w: AK name is %d bytes, want %d for %s", ErrMalformed, len(n), 2+h.Size(), hashName(h))
	}
	return nil
}

// CheckActivationAK rejects an AK that credential activation must not
// vouch for: activation proves only that an object of the AK's Name is
// loaded in the EK's TPM, so the Name's TPMT_PUBLIC must say that the key
// is a restricted signing key (it signs only TPM-generated structures)
// that never leaves that TPM (fixedTPM, fixedParent) and was made inside
// it (sensitiveDataOrigin). TCG "TPM 2.0 Keys for Device Identity and
// Attestation", section 6.
func CheckActivationAK(ak *AK) error {
	if ak == nil || ak.Public == nil {
		return fmt.Errorf("%w: the AK's TPMT_PUBLIC is needed (TPM2B_PUBLIC, not a bare public key): its Name binds the credential", ErrCollateralMissing)
	}
	a := ak.Public.ObjectAttributes
	if !a.Restricted || !a.SignEncrypt || a.Decrypt || !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin {
		return fmt.Errorf("%w: the AK is not a restricted signing key fixed to its TPM (restricted %v, sign %v, decrypt %v, fixedTPM %v, fixedParent %v, sensitiveDataOrigin %v)",
			ErrUnvouched, a.Restricted, a.SignEncrypt, a.Decrypt, a.FixedTPM, a.FixedParent, a.SensitiveDataOrigin)
	}
	return nil
}

// CheckActivation compares, in constant time, the secret the attester
// recovered with TPM2_ActivateCredential with the one issued.
func CheckActivation(issued, recovered []byte) error {
	if len(issued) == 0 {
		return fmt.Errorf("%w: no issued secret", ErrActivation)
	}
	if subtle.ConstantTimeCompare(issued, recovered) != 1 {
		return fmt.Errorf("%w: the recovered secret (%d bytes) is not the issued one (%d bytes)", ErrActivation, len(recovered), len(issued))
	}
	return nil
}

// The credential file of tpm2-tools (tools/tpm2_makecredential.c,
// write_cred_and_secret; read back by tpm2_activatecredential -i): a
// header of the magic 0xBADCC0DE and version 1 (uint32 each, big-endian),
// then TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET (uint16 size, bytes).
const (
	credFileMagic   = 0xBADCC0DE
	credFileVersion = 1
)

// MarshalCredentialFile writes a credential blob and encrypted secret in
// tpm2-tools' tpm2_makecredential -o format.
func MarshalCredentialFile(credentialBlob, encryptedSecret []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, credFileMagic)
	b = binary.BigEndian.AppendUint32(b, credFileVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(credentialBlob)))
	b = append(b, credentialBlob...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(encryptedSecret)))
	return append(b, encryptedSecret...)
}

// ParseCredentialFile reads tpm2_makecredential's output file.
func ParseCredentialFile(b []byte) (credentialBlob, encryptedSecret []byte, err error) {
	if len(b) < 8 || binary.BigEndian.Uint32(b) != credFileMagic {
		return nil, nil, fmt.Errorf("%w: not a tpm2-tools credential file (magic 0xBADCC0DE)", ErrMalformed)
	}
	if v := binary.BigEndian.Uint32(b[4:]); v != credFileVersion {
		return nil, nil, fmt.Errorf("%w: tpm2-tools credential file version %d, want %d", ErrMalformed, v, credFileVersion)
	}
	r := bytes.NewReader(b[8:])
	next := func(what string) ([]byte, error) {
		var n uint16
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return nil, fmt.Errorf("%w: credential file: %s size: %v", ErrMalformed, what, err)
		}
		out := make([]byte, n)
		if _, err := io.ReadFull(r, out); err != nil {
			return nil, fmt.Errorf("%w: credential file: %s is shorter than its size %d", ErrMalformed, what, n)
		}
		return out, nil
	}
	if credentialBlob, err = next("TPM2B_ID_OBJECT"); err != nil {
		return nil, nil, err
	}
	if encryptedSecret, err = next("TPM2B_ENCRYPTED_SECRET"); err != nil {
		return nil, nil, err
	}
	if r.Len() != 0 {
		return nil, nil, fmt.Errorf("%w: credential file: %d trailing bytes", ErrMalformed, r.Len())
	}
	return credentialBlob, encryptedSecret, nil
}

// Enrollment records an AK that passed credential activation: the AK (its
// TPMT_PUBLIC, hence its Name), the EK it was activated against, and when.
type Enrollment struct {
	AK          *AK
	EKSHA256    []byte // SHA-256 of the EK's DER SubjectPublicKeyInfo
	ActivatedAt time.Time
}

// pemEnrollment is the PEM type of an enrolment record. Its bytes are the
// AK's TPM2B_PUBLIC; headers carry the rest. A plain PUBLIC KEY block
// of the AK follows for other tools, and is ignored on reading.
const pemEnrollment = "TPM ENROLLED AK"

// MarshalEnrollment writes an enrolment record as PEM.
func MarshalEnrollment(e *Enrollment) ([]byte, error) {
	if err := CheckActivationAK(e.AK); err != nil {
		return nil, err
	}
	if len(e.EKSHA256) != sha256.Size {
		return nil, fmt.Errorf("%w: EK SHA-256 is %d bytes", ErrMalformed, len(e.EKSHA256))
	}
	blk := &pem.Block{Type: pemEnrollment, Headers: map[string]string{
		"AK-Name":      hex.EncodeToString(e.AK.Name),
		"EK-SHA256":    hex.EncodeToString(e.EKSHA256),
		"Activated-At": e.ActivatedAt.UTC().Format(time.RFC3339),
	}, Bytes: tpm2.Marshal(tpm2.New2B(*e.AK.Public))}
	out := pem.EncodeToMemory(blk)
	der, err := x509.MarshalPKIXPublicKey(e.AK.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: AK public key: %v", ErrMalformed, err)
	}
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...), nil
}

// ParseEnrollments reads every enrolment record in b (PEM, as
// MarshalEnrollment writes them; several may be concatenated). The AK
// Name is recomputed from the TPM2B_PUBLIC and must equal the AK-Name
// header.
func ParseEnrollments(b []byte) ([]Enrollment, error) {
	var out []Enrollment
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != pemEnrollment {
			continue
		}
		ak, err := ParseAKPublic(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("enrolment record: %w", err)
		}
		if err := CheckActivationAK(ak); err != nil {
			return nil, fmt.Errorf("enrolment record: %w", err)
		}
		if name, err := hex.DecodeString(blk.Headers["AK-Name"]); err != nil || !bytes.Equal(name, ak.Name) {
			return nil, fmt.Errorf("%w: enrolment record: AK-Name %q, the AK's Name is %x", ErrMalformed, blk.Headers["AK-Name"], ak.Name)
		}
		ek, err := hex.DecodeString(blk.Headers["EK-SHA256"])
		if err != nil || len(ek) != sha256.Size {
			return nil, fmt.Errorf("%w: enrolment record: EK-SHA256 %q is not a SHA-256 in hex", ErrMalformed, blk.Headers["EK-SHA256"])
		}
		at, err := time.Parse(time.RFC3339, blk.Headers["Activated-At"])
		if err != nil {
			return nil, fmt.Errorf("%w: enrolment record: Activated-At %q is not RFC 3339", ErrMalformed, blk.Headers["Activated-At"])
		}
		out = append(out, Enrollment{AK: ak, EKSHA256: ek, ActivatedAt: at.UTC()})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no %s PEM block", ErrMalformed, pemEnrollment)
	}
	return out, nil
}

// enrolled finds the enrolment of the quote's AK: same Name, so the same
// TPMT_PUBLIC (attributes included), or, for an AK given only as a public
// key, the same key.
func enrolled(ak *AK, es []Enrollment) *Enrollment {
	if ak == nil {
		return nil
	}
	for i := range es {
		e := &es[i]
		if e.AK == nil {
			continue
		}
		if ak.Name != nil {
			if bytes.Equal(ak.Name, e.AK.Name) {
				return e
			}
			continue
		}
		if sameKey(ak.Key, e.AK.Key) {
			return e
		}
	}
	return nil
}
