package tcg

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"strings"
)

// IMA signatures: the "sig" field of the ima-sig, ima-sigv2 and
// ima-modsig templates holds the file's security.ima extended attribute
// when it is a signature (Linux security/integrity/ima/ima_template_lib.c,
// ima_eventsig_init). Its layout is struct signature_v2_hdr
// (security/integrity/integrity.h), packed, integers big-endian:
//
//	u8   type       EVM_IMA_XATTR_DIGSIG (0x03) or IMA_VERITY_DIGSIG (0x06)
//	u8   version    2 (3: sigv3, over a hash of struct ima_file_id)
//	u8   hash_algo  enum hash_algo (include/uapi/linux/hash_info.h)
//	u32  keyid      the last 4 bytes of the signing key's SubjectKeyIdentifier
//	u16  sig_size
//	u8   sig[sig_size]
//
// For version 2 the signature is over the file digest itself, with the
// key's scheme: RSASSA-PKCS1-v1_5 with the DigestInfo of hash_algo, or an
// ECDSA signature (DER) of the digest (crypto/asymmetric_keys, reached
// through security/integrity/digsig_asymmetric.c, asymmetric_verify).
const (
	imaXattrDigSig    = 0x03 // EVM_IMA_XATTR_DIGSIG
	imaXattrVeritySig = 0x06 // IMA_VERITY_DIGSIG
	imaSigHeaderSize  = 9    // sizeof(struct signature_v2_hdr)
)

// IMASignature is a decoded signature_v2_hdr and its signature.
type IMASignature struct {
	Type     byte    // type: 0x03 or 0x06
	Version  byte    // version: 2 or 3
	HashAlgo byte    // hash_algo, Linux enum hash_algo
	KeyID    [4]byte // keyid
	Sig      []byte  // sig[sig_size]
}

// ParseIMASignature decodes the sig field of an IMA template (the
// security.ima attribute of a signed file). The length must be the
// header's and sig_size exactly, as the kernel requires (asymmetric_verify:
// siglen != sizeof(*hdr) + sig_size is -EBADMSG). It does no crypto.
func ParseIMASignature(b []byte) (*IMASignature, error) {
	if len(b) < imaSigHeaderSize {
		return nil, fmt.Errorf("%w: IMA signature: %d bytes, the header alone is %d", ErrMalformed, len(b), imaSigHeaderSize)
	}
	s := &IMASignature{Type: b[0], Version: b[1], HashAlgo: b[2]}
	if s.Type != imaXattrDigSig && s.Type != imaXattrVeritySig {
		return nil, fmt.Errorf("%w: IMA signature: xattr type %#02x, want EVM_IMA_XATTR_DIGSIG (0x03) or IMA_VERITY_DIGSIG (0x06)", ErrMalformed, s.Type)
	}
	if s.Version != 2 && s.Version != 3 {
		return nil, fmt.Errorf("%w: IMA signature: version %d, want 2 or 3", ErrMalformed, s.Version)
	}
	copy(s.KeyID[:], b[3:7])
	n := int(binary.BigEndian.Uint16(b[7:]))
	if len(b)-imaSigHeaderSize != n {
		return nil, fmt.Errorf("%w: IMA signature: sig_size %d, %d bytes follow the header", ErrMalformed, n, len(b)-imaSigHeaderSize)
	}
	s.Sig = bytes.Clone(b[imaSigHeaderSize:])
	return s, nil
}

// Marshal encodes the signature as ParseIMASignature reads it.
func (s *IMASignature) Marshal() []byte {
	b := []byte{s.Type, s.Version, s.HashAlgo}
	b = append(b, s.KeyID[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.Sig)))
	return append(b, s.Sig...)
}

// KeyIDString is the key ID as evmctl and the kernel print it (8 hex digits).
func (s *IMASignature) KeyIDString() string { return fmt.Sprintf("%x", s.KeyID[:]) }

// linuxHashAlgos maps Linux's enum hash_algo
// (include/uapi/linux/hash_info.h) to the hashes Go implements.
var linuxHashAlgos = map[byte]crypto.Hash{
	1: crypto.MD5,    // HASH_ALGO_MD5
	2: crypto.SHA1,   // HASH_ALGO_SHA1
	4: crypto.SHA256, // HASH_ALGO_SHA256
	5: crypto.SHA384, // HASH_ALGO_SHA384
	6: crypto.SHA512, // HASH_ALGO_SHA512
	7: crypto.SHA224, // HASH_ALGO_SHA224
}

// linuxHashNames names the rest of enum hash_algo for messages.
var linuxHashNames = map[byte]string{
	0: "md4", 3: "rmd160", 8: "rmd128", 9: "rmd256", 10: "rmd320",
	11: "wp256", 12: "wp384", 13: "wp512", 14: "tgr128", 15: "tgr160",
	16: "tgr192", 17: "sm3-256", 18: "streebog256", 19: "streebog512",
	20: "sha3-256", 21: "sha3-384", 22: "sha3-512",
}

// Hash returns the Go hash of hash_algo; false when Go has none.
func (s *IMASignature) Hash() (crypto.Hash, bool) {
	h, ok := linuxHashAlgos[s.HashAlgo]
	return h, ok && h.Available()
}

func (s *IMASignature) hashName() string {
	if h, ok := s.Hash(); ok {
		return HashName(h)
	}
	if n, ok := linuxHashNames[s.HashAlgo]; ok {
		return n
	}
	return fmt.Sprintf("hash_algo %d", s.HashAlgo)
}

// IMAKey is a public key that IMA signatures are checked against, with
// the 4-byte key ID that names it in signature_v2_hdr.keyid.
type IMAKey struct {
	// ID is the last 4 bytes of the key's SubjectKeyIdentifier: the
	// certificate's extension when it has one (what the kernel's .ima
	// keyring matches), otherwise the SHA-1 of the subjectPublicKey bits
	// (RFC 5280 section 4.2.1.2, method 1; evmctl and Keylime compute a
	// bare key's ID so).
	ID  [4]byte
	Key crypto.PublicKey
	// Source names where the key came from, for messages: a file name,
	// a certificate subject.
	Source string
}

// IDString is the key ID as 8 hex digits.
func (k IMAKey) IDString() string { return fmt.Sprintf("%x", k.ID[:]) }

// NewIMAKey makes an IMAKey of an RSA or ECDSA public key. skid, when
// not empty, is the key's SubjectKeyIdentifier; otherwise it is computed.
func NewIMAKey(pub crypto.PublicKey, skid []byte, source string) (IMAKey, error) {
	switch pub.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return IMAKey{}, fmt.Errorf("%w: IMA key %s is %T, want RSA or ECDSA", ErrUnsupported, source, pub)
	}
	if len(skid) < 4 {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return IMAKey{}, fmt.Errorf("%w: IMA key %s: %v", ErrMalformed, source, err)
		}
		var spki struct {
			Algorithm pkix.AlgorithmIdentifier
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(der, &spki); err != nil {
			return IMAKey{}, fmt.Errorf("%w: IMA key %s: %v", ErrMalformed, source, err)
		}
		s := sha1.Sum(spki.PublicKey.Bytes)
		skid = s[:]
	}
	k := IMAKey{Key: pub, Source: source}
	copy(k.ID[:], skid[len(skid)-4:])
	return k, nil
}

// IMAKeyFromCertificate makes an IMAKey of a certificate's key, named by
// its SubjectKeyIdentifier as the kernel's keyring names it.
func IMAKeyFromCertificate(c *x509.Certificate) (IMAKey, error) {
	src := c.Subject.String()
	if src == "" {
		src = fmt.Sprintf("serial %#x", c.SerialNumber)
	}
	return NewIMAKey(c.PublicKey, c.SubjectKeyId, "certificate "+src)
}

// ParseIMAKeys reads IMA verification keys: PEM CERTIFICATE and PUBLIC
// KEY blocks (any number), or one DER certificate or DER
// SubjectPublicKeyInfo (the kernel's /etc/keys/ima/*.der, evmctl's key
// files). source names the input in messages and in each key.
func ParseIMAKeys(b []byte, source string) ([]IMAKey, error) {
	var out []IMAKey
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		if c, err := x509.ParseCertificate(b); err == nil {
			k, err := IMAKeyFromCertificate(c)
			if err != nil {
				return nil, err
			}
			k.Source = source + ": " + k.Source
			return []IMAKey{k}, nil
		}
		pub, err := x509.ParsePKIXPublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("%w: IMA key %s: neither a DER certificate nor a DER public key", ErrMalformed, source)
		}
		k, err := NewIMAKey(pub, nil, source)
		if err != nil {
			return nil, err
		}
		return []IMAKey{k}, nil
	}
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: IMA key %s: certificate: %v", ErrMalformed, source, err)
			}
			k, err := IMAKeyFromCertificate(c)
			if err != nil {
				return nil, err
			}
			k.Source = source + ": " + k.Source
			out = append(out, k)
		case "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: IMA key %s: public key: %v", ErrMalformed, source, err)
			}
			k, err := NewIMAKey(pub, nil, source)
			if err != nil {
				return nil, err
			}
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: IMA key %s: no CERTIFICATE or PUBLIC KEY PEM block", ErrMalformed, source)
	}
	return out, nil
}

// Verify checks a version 2 signature over a file digest (of hash alg,
// as the template's d-ng field states it) with the keys whose ID is the
// signature's key ID. The error wraps ErrSignature (no such key, or the
// signature does not verify), ErrUnsupported (a version, hash or key
// type this package does not verify) or ErrMalformed.
func (s *IMASignature) Verify(keys []IMAKey, alg crypto.Hash, digest []byte) error {
	return s.VerifyMeasurement(keys, alg, digest, false)
}

// VerifyMeasurement checks a signature of a measurement as the kernel
// appraises it (security/integrity/ima/ima_appraise.c xattr_verify):
//
//   - EVM_IMA_XATTR_DIGSIG (0x03), version 2: over the measured digest;
//     version 3 the kernel refuses ("invalid-signature-version");
//   - IMA_VERITY_DIGSIG (0x06), version 3 only, and only of an fs-verity
//     measurement (verity: the d-ngv2 field's type "verity"): over the
//     hash, in the measurement's algorithm, of struct ima_file_id
//     {hash_type = IMA_VERITY_DIGSIG, hash_algorithm, the fs-verity
//     digest} cut to the digest's size (calc_file_id_hash).
func (s *IMASignature) VerifyMeasurement(keys []IMAKey, alg crypto.Hash, digest []byte, verity bool) error {
	switch {
	case s.Type == imaXattrDigSig && s.Version != 2:
		return fmt.Errorf("%w: an EVM_IMA_XATTR_DIGSIG signature of version %d, which the kernel refuses (only IMA_VERITY_DIGSIG signatures are version 3)", ErrSignature, s.Version)
	case s.Type == imaXattrVeritySig && s.Version != 3:
		return fmt.Errorf("%w: an IMA_VERITY_DIGSIG signature of version %d, want 3", ErrSignature, s.Version)
	case s.Type == imaXattrVeritySig && !verity:
		return fmt.Errorf("%w: an fs-verity signature (IMA_VERITY_DIGSIG) on a measurement of the file's content, not of its fs-verity digest", ErrSignature)
	}
	h, ok := s.Hash()
	if !ok {
		return fmt.Errorf("%w: signature hash %s", ErrUnsupported, s.hashName())
	}
	if h != alg || len(digest) != h.Size() {
		return fmt.Errorf("%w: the signature is over a %s digest, the measurement is %s (%d bytes)", ErrSignature, HashName(h), HashName(alg), len(digest))
	}
	if s.Type == imaXattrVeritySig {
		digest = fileIDHash(h, s.HashAlgo, digest)
	}
	var tried []string
	for _, k := range keys {
		if k.ID != s.KeyID {
			continue
		}
		var err error
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			err = rsa.VerifyPKCS1v15(pub, h, digest, s.Sig)
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(pub, digest, s.Sig) {
				err = fmt.Errorf("ECDSA signature does not verify")
			}
		default:
			err = fmt.Errorf("key type %T", pub)
		}
		if err == nil {
			return nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v", k.Source, err))
	}
	if len(tried) == 0 {
		return fmt.Errorf("%w: no given key has ID %s", ErrSignature, s.KeyIDString())
	}
	return fmt.Errorf("%w: %s signature by key %s does not verify (%s)", ErrSignature, HashName(h), s.KeyIDString(), strings.Join(tried, "; "))
}

// fileIDHash is calc_file_id_hash: the hash of struct ima_file_id
// {u8 hash_type = IMA_VERITY_DIGSIG, u8 hash_algorithm, the digest},
// without the unused tail of its HASH_MAX_DIGESTSIZE digest array.
func fileIDHash(h crypto.Hash, algo byte, digest []byte) []byte {
	w := h.New()
	w.Write([]byte{imaXattrVeritySig, algo})
	w.Write(digest)
	return w.Sum(nil)
}

// SignatureKeyIDs lists, once each and in order of first use, the key
// IDs of the decodable signatures in the list's entries.
func (l *IMALog) SignatureKeyIDs() [][4]byte {
	var out [][4]byte
	seen := map[[4]byte]bool{}
	for i := range l.Entries {
		f, ok := fileOf(&l.Entries[i])
		if !ok || len(f.sig) == 0 {
			continue
		}
		s, err := ParseIMASignature(f.sig)
		if err != nil || seen[s.KeyID] {
			continue
		}
		seen[s.KeyID] = true
		out = append(out, s.KeyID)
	}
	return out
}
