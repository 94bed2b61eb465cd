package bootchain

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"testing"
)

// fwupd is fwupdx64.efi.signed from Debian's fwupd-amd64-signed 1:1.4+1
// (testdata/README.md), signed by "Debian Secure Boot Signer 2022 -
// fwupd" with a SHA-256 Authenticode signature.
const fwupd = "testdata/fwupdx64.efi.signed"

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// OIDs of the Authenticode signature (Authenticode PE 1.0, "signedData",
// "SpcIndirectDataContent"; RFC 5652 section 5.1).
var (
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSpcIndirectData = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 4}
	oidSHA256          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

type contentInfo struct {
	Type    asn1.ObjectIdentifier
	Content asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	ContentInfo      contentInfo
	Rest             asn1.RawValue `asn1:"optional"` // certificates, signerInfos: not read
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type spcIndirectDataContent struct {
	Data          asn1.RawValue // SpcAttributeTypeAndOptionalValue
	MessageDigest struct {
		Algorithm algorithmIdentifier
		Digest    []byte
	}
}

// signedDigest reads the messageDigest of the SpcIndirectDataContent in
// the image's first WIN_CERTIFICATE (wCertificateType 2,
// WIN_CERT_TYPE_PKCS_SIGNED_DATA): the digest the signer computed, an
// independent value for Digest to match.
func signedDigest(t *testing.T, im *Image) (asn1.ObjectIdentifier, []byte) {
	t.Helper()
	c := im.Certificates()
	if len(c) < 8 || binary.LittleEndian.Uint16(c[6:]) != 2 {
		t.Fatalf("no PKCS#7 WIN_CERTIFICATE in %d bytes", len(c))
	}
	n := int(binary.LittleEndian.Uint32(c))
	var ci contentInfo
	if _, err := asn1.Unmarshal(c[8:n], &ci); err != nil || !ci.Type.Equal(oidSignedData) {
		t.Fatalf("ContentInfo: %v, type %v", err, ci.Type)
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || !sd.ContentInfo.Type.Equal(oidSpcIndirectData) {
		t.Fatalf("SignedData: %v, content type %v", err, sd.ContentInfo.Type)
	}
	var idc spcIndirectDataContent
	if _, err := asn1.Unmarshal(sd.ContentInfo.Content.Bytes, &idc); err != nil {
		t.Fatalf("SpcIndirectDataContent: %v", err)
	}
	return idc.MessageDigest.Algorithm.Algorithm, idc.MessageDigest.Digest
}

func TestAuthenticodeSignedDigest(t *testing.T) {
	im, err := ParsePE(readFile(t, fwupd))
	if err != nil {
		t.Fatal(err)
	}
	alg, want := signedDigest(t, im)
	if !alg.Equal(oidSHA256) {
		t.Fatalf("signature digest algorithm %v, want SHA-256", alg)
	}
	if got := im.Digest(crypto.SHA256); !bytes.Equal(got, want) {
		t.Errorf("Authenticode SHA-256 %x, the signature says %x", got, want)
	}
}

// TestAuthenticodeOsslsigncode compares with the "Calculated message
// digest" of osslsigncode 2.9 (testdata/README.md records how).
func TestAuthenticodeOsslsigncode(t *testing.T) {
	im, err := ParsePE(readFile(t, fwupd))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		h    crypto.Hash
		want string
	}{
		{"fwupd-sha1", crypto.SHA1, "79954ec9017ac43170efa7d8314abb68779f2e6b"},
		{"fwupd-sha256", crypto.SHA256, "54563dba7fe706fab763168771637e02f82bf776e47fc16c96b87f3ecdb11958"},
		{"fwupd-sha384", crypto.SHA384, "fcb0e9b505767de0fdcfbd624ac09fdfba3286e41a38e084987dddfeeedc598f47d9fac9718289f39f74dece76b3ae81"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hex.EncodeToString(im.Digest(tc.h)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestAuthenticodeIgnoresSignature: CheckSum, the certificate table entry
// and the certificate table are outside the digest; a byte of a section
// is not.
func TestAuthenticodeIgnoresSignature(t *testing.T) {
	b := readFile(t, fwupd)
	im, err := ParsePE(b)
	if err != nil {
		t.Fatal(err)
	}
	want := im.Digest(crypto.SHA256)
	pe := int(binary.LittleEndian.Uint32(b[dosLfanewOff:]))
	opt := pe + 4 + coffHeaderSize
	unsigned := bytes.Clone(b[:im.CertOffset])
	binary.LittleEndian.PutUint32(unsigned[opt+optCheckSum:], 0)
	clear(unsigned[opt+optNumDirsPE32P+4+dirCertificate*dataDirSize:][:dataDirSize])
	u, err := ParsePE(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Digest(crypto.SHA256); !bytes.Equal(got, want) {
		t.Errorf("without its signature: %x, want %x", got, want)
	}
	flipped := bytes.Clone(b)
	flipped[im.ranges[len(im.ranges)-1][0]] ^= 1
	f, err := ParsePE(flipped)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(f.Digest(crypto.SHA256), want) {
		t.Error("a flipped section byte left the digest unchanged")
	}
}

func TestParsePEMalformed(t *testing.T) {
	b := readFile(t, fwupd)
	pe := int(binary.LittleEndian.Uint32(b[dosLfanewOff:]))
	opt := pe + 4 + coffHeaderSize
	set32 := func(off int, v uint32) []byte {
		c := bytes.Clone(b)
		binary.LittleEndian.PutUint32(c[off:], v)
		return c
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"no-mz", append([]byte("ZM"), b[2:]...)},
		{"lfanew-past-end", set32(dosLfanewOff, uint32(len(b)))},
		{"bad-magic", set32(opt, 0x1234)},
		{"headers-past-end", set32(opt+optSizeOfHeaders, uint32(len(b)+1))},
		{"cert-past-end", set32(opt+optNumDirsPE32P+4+dirCertificate*dataDirSize+4, uint32(len(b)))},
		{"truncated-headers", b[:pe+100]},
		{"truncated-sections", b[:len(b)/2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParsePE(tc.b); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParsePE: %v, want ErrMalformed", err)
			}
		})
	}
}

// FuzzParsePE: no panic; whatever parses hashes without one.
func FuzzParsePE(f *testing.F) {
	b := readFile(f, fwupd)
	f.Add(b)
	f.Add(b[:0x400])
	f.Add(b[:len(b)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := ParsePE(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		im.Digest(crypto.SHA256)
		im.Certificates()
	})
}

func BenchmarkAuthenticodeSHA256(b *testing.B) {
	im, err := ParsePE(readFile(b, fwupd))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(im.data)))
	for b.Loop() {
		im.Digest(crypto.SHA256)
	}
}
