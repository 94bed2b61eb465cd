package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/bits"
	"sort"

	"github.com/google/go-tpm/tpm2"
)

// Quote is one TPM2_Quote (TPM 2.0 Library, Part 3, section 18.4): the
// TPMS_ATTEST the TPM signed, its TPMT_SIGNATURE, and the PCR values that
// the caller says were quoted (they are not signed: only their digest is).
type Quote struct {
	// Raw is the TPMS_ATTEST exactly as signed (TPM2B_ATTEST.attestationData).
	Raw []byte
	// Attest is Raw decoded; its Type is TPM_ST_ATTEST_QUOTE.
	Attest *tpm2.TPMSAttest
	// Info is Attest.Attested.quote: pcrSelect and pcrDigest.
	Info *tpm2.TPMSQuoteInfo
	// RawSig is the TPMT_SIGNATURE as supplied; nil when not (yet) known.
	RawSig []byte
	// Sig is RawSig decoded.
	Sig *tpm2.TPMTSignature
	// PCRs are the supplied PCR values by bank and index; nil when none.
	PCRs PCRs
}

// PCRs holds PCR values: bank (TPM_ALG_ID of the hash) -> index -> digest.
type PCRs map[tpm2.TPMAlgID]map[int][]byte

// AK is the attestation key: its TPMT_PUBLIC when known (from a
// TPM2B_PUBLIC or TPMT_PUBLIC), and its public key.
type AK struct {
	// Public is nil when the AK was given as a PEM or X.509 public key:
	// then its attributes and Name are unknown.
	Public *tpm2.TPMTPublic
	Key    crypto.PublicKey
	// Name is TPM2B_NAME.name (nameAlg || H(TPMT_PUBLIC)), Part 1 section
	// 16; nil without Public.
	Name []byte
	// spkiSHA256 is the SHA-256 of Key's DER SubjectPublicKeyInfo, as
	// the parsers compute it once; nil for an AK made otherwise.
	spkiSHA256 []byte
}

// keySHA256 returns the SHA-256 of the AK's DER SubjectPublicKeyInfo.
func (ak *AK) keySHA256() []byte {
	if ak.spkiSHA256 != nil {
		return ak.spkiSHA256
	}
	return spkiSHA256(ak.Key)
}

func spkiSHA256(k crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil
	}
	s := sha256.Sum256(der)
	return s[:]
}

// unmarshal decodes a TPM structure with go-tpm and insists that it be the
// whole input in canonical form: go-tpm's Unmarshal ignores trailing bytes,
// and a signed structure must not carry any. It never panics.
func unmarshal[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](what string, b []byte) (v *T, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, r)
		}
	}()
	v, err = tpm2.Unmarshal[T, P](b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if m := tpm2.Marshal(*v); !bytes.Equal(m, b) {
		return nil, fmt.Errorf("%w: %s: %d bytes, of which the structure encodes %d", ErrMalformed, what, len(b), len(m))
	}
	return v, nil
}

// ParseAttest decodes a TPMS_ATTEST (Part 2, section 10.12.12) and
// requires a quote: magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE,
// and PCR selections of supported banks.
func ParseAttest(b []byte) (*Quote, error) {
	if len(b) < 6 {
		return nil, fmt.Errorf("%w: TPMS_ATTEST: %d bytes", ErrMalformed, len(b))
	}
	if m := binary.BigEndian.Uint32(b); m != uint32(tpm2.TPMGeneratedValue) {
		return nil, fmt.Errorf("%w: TPMS_ATTEST magic is %#08x, want TPM_GENERATED_VALUE %#08x", ErrMalformed, m, uint32(tpm2.TPMGeneratedValue))
	}
	if t := binary.BigEndian.Uint16(b[4:]); t != uint16(tpm2.TPMSTAttestQuote) {
		return nil, fmt.Errorf("%w: TPMS_ATTEST type is %#04x, want TPM_ST_ATTEST_QUOTE %#04x", ErrMalformed, t, uint16(tpm2.TPMSTAttestQuote))
	}
	a, err := unmarshal[tpm2.TPMSAttest]("TPMS_ATTEST", b)
	if err != nil {
		return nil, err
	}
	info, err := a.Attested.Quote()
	if err != nil {
		return nil, fmt.Errorf("%w: TPMS_ATTEST: %v", ErrMalformed, err)
	}
	for _, s := range info.PCRSelect.PCRSelections {
		if _, err := bankHash(s.Hash); err != nil {
			return nil, err
		}
	}
	return &Quote{Raw: bytes.Clone(b), Attest: a, Info: info}, nil
}

// ParseSignature decodes a TPMT_SIGNATURE (Part 2, section 11.3.4) of a
// scheme this package verifies: RSASSA, RSAPSS or ECDSA with SHA-1,
// SHA-256 or SHA-384.
func ParseSignature(b []byte) (*tpm2.TPMTSignature, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: TPMT_SIGNATURE: %d bytes", ErrMalformed, len(b))
	}
	switch alg := tpm2.TPMAlgID(binary.BigEndian.Uint16(b)); alg {
	case tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS, tpm2.TPMAlgECDSA:
	default:
		return nil, fmt.Errorf("%w: TPMT_SIGNATURE sigAlg %#04x, want RSASSA, RSAPSS or ECDSA", ErrMalformed, uint16(alg))
	}
	if _, err := bankHash(tpm2.TPMAlgID(binary.BigEndian.Uint16(b[2:]))); err != nil {
		return nil, err
	}
	return unmarshal[tpm2.TPMTSignature]("TPMT_SIGNATURE", b)
}

// bankHash maps the hash algorithms of this slice (SHA-1, SHA-256,
// SHA-384) to crypto.Hash.
func bankHash(alg tpm2.TPMAlgID) (crypto.Hash, error) {
	switch alg {
	case tpm2.TPMAlgSHA1:
		return crypto.SHA1, nil
	case tpm2.TPMAlgSHA256:
		return crypto.SHA256, nil
	case tpm2.TPMAlgSHA384:
		return crypto.SHA384, nil
	}
	return 0, fmt.Errorf("%w: hash algorithm %#04x, want SHA-1 (0x0004), SHA-256 (0x000b) or SHA-384 (0x000c)", ErrMalformed, uint16(alg))
}

// bankName is the JSON name of a bank ("sha256").
func bankName(alg tpm2.TPMAlgID) string {
	switch alg {
	case tpm2.TPMAlgSHA1:
		return "sha1"
	case tpm2.TPMAlgSHA256:
		return "sha256"
	case tpm2.TPMAlgSHA384:
		return "sha384"
	}
	return fmt.Sprintf("alg-%#04x", uint16(alg))
}

// Selected lists the PCR indices a TPMS_PCR_SELECTION selects, ascending
// (Part 2, section 10.6.2: bit n of pcrSelect[n/8] is PCR n).
func Selected(s tpm2.TPMSPCRSelection) []int {
	n := 0
	for _, byt := range s.PCRSelect {
		n += bits.OnesCount8(byt)
	}
	if n == 0 {
		return nil
	}
	out := make([]int, 0, n)
	for i, byt := range s.PCRSelect {
		for bit := 0; bit < 8; bit++ {
			if byt&(1<<bit) != 0 {
				out = append(out, i*8+bit)
			}
		}
	}
	return out
}

// ParseAKPublic reads an AK public key given as TPM2B_PUBLIC, TPMT_PUBLIC
// (Part 2, section 12.2.4/12.2.5), or PEM ("PUBLIC KEY", PKIX).
func ParseAKPublic(b []byte) (*AK, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%w: PEM block %q, want PUBLIC KEY", ErrMalformed, blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: AK public key: %v", ErrMalformed, err)
		}
		return akFromKey(k)
	}
	if len(b) >= 2 && int(binary.BigEndian.Uint16(b)) == len(b)-2 {
		b = b[2:] // TPM2B_PUBLIC: the size, then TPMT_PUBLIC
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: TPMT_PUBLIC: %d bytes", ErrMalformed, len(b))
	}
	if t := tpm2.TPMAlgID(binary.BigEndian.Uint16(b)); t != tpm2.TPMAlgRSA && t != tpm2.TPMAlgECC {
		return nil, fmt.Errorf("%w: TPMT_PUBLIC type %#04x, want RSA or ECC", ErrMalformed, uint16(t))
	}
	pub, err := unmarshal[tpm2.TPMTPublic]("TPMT_PUBLIC", b)
	if err != nil {
		return nil, err
	}
	return akFromPublic(pub)
}

func akFromPublic(pub *tpm2.TPMTPublic) (_ *AK, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: TPMT_PUBLIC: %v", ErrMalformed, r)
		}
	}()
	k, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, fmt.Errorf("%w: TPMT_PUBLIC: %v", ErrMalformed, err)
	}
	switch k.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return nil, fmt.Errorf("%w: AK public key is %T, want RSA or ECDSA", ErrMalformed, k)
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: TPMT_PUBLIC name: %v", ErrMalformed, err)
	}
	return &AK{Public: pub, Key: k, Name: name.Buffer, spkiSHA256: spkiSHA256(k)}, nil
}

func akFromKey(k crypto.PublicKey) (*AK, error) {
	switch k.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		return &AK{Key: k, spkiSHA256: spkiSHA256(k)}, nil
	}
	return nil, fmt.Errorf("%w: AK public key is %T, want RSA or ECDSA", ErrMalformed, k)
}

// The PCR file tpm2_quote -o (and tpm2_pcrread -o) writes by default, in
// tpm2-tools' "serialized" format (lib/pcr.c, pcr_fwrite_serialized): the
// C structures as laid out in memory, little-endian:
//
//	TPML_PCR_SELECTION  uint32 count, then 16 x TPMS_PCR_SELECTION
//	                    (uint16 hash, uint8 sizeofSelect, 4 x uint8
//	                    pcrSelect, one byte of padding)           132 bytes
//	uint32 n                                                      4 bytes
//	n x TPML_DIGEST     uint32 count, then 8 x TPM2B_DIGEST
//	                    (uint16 size, 64 bytes buffer)            532 bytes each
//
// The digests follow the selection in order: bank by bank, PCRs ascending,
// up to eight to a TPML_DIGEST (one TPM2_PCR_Read each).
const (
	pcrFileSelection = 4 + 16*8
	pcrFileDigests   = 4 + 8*(2+64)
	pcrFileMaxBanks  = 16
	pcrFileMaxChunks = 24 * 4 // TPM2_MAX_PCRS per bank, for every bank
)

// PCRFile is a decoded tpm2-tools serialized PCR file.
type PCRFile struct {
	Selection []tpm2.TPMSPCRSelection
	Values    PCRs
}

// ParsePCRFile decodes a tpm2-tools serialized PCR file (see above).
func ParsePCRFile(b []byte) (*PCRFile, error) {
	if len(b) < pcrFileSelection+4 || (len(b)-pcrFileSelection-4)%pcrFileDigests != 0 {
		return nil, fmt.Errorf("%w: tpm2-tools PCR file: %d bytes, want %d + 4 + n*%d", ErrMalformed, len(b), pcrFileSelection, pcrFileDigests)
	}
	le := binary.LittleEndian
	count := le.Uint32(b)
	if count == 0 || count > pcrFileMaxBanks {
		return nil, fmt.Errorf("%w: tpm2-tools PCR file selects %d banks, want 1 to %d", ErrMalformed, count, pcrFileMaxBanks)
	}
	f := &PCRFile{Values: PCRs{}}
	type slot struct {
		bank tpm2.TPMAlgID
		pcr  int
	}
	var want []slot
	for i := 0; i < int(count); i++ {
		s := b[4+8*i:]
		alg := tpm2.TPMAlgID(le.Uint16(s))
		size := int(s[2])
		if _, err := bankHash(alg); err != nil {
			return nil, err
		}
		if size > 4 {
			return nil, fmt.Errorf("%w: tpm2-tools PCR file: sizeofSelect %d, want at most 4", ErrMalformed, size)
		}
		sel := tpm2.TPMSPCRSelection{Hash: alg, PCRSelect: bytes.Clone(s[3 : 3+size])}
		f.Selection = append(f.Selection, sel)
		for _, p := range Selected(sel) {
			want = append(want, slot{alg, p})
		}
	}
	n := int(le.Uint32(b[pcrFileSelection:]))
	chunks := (len(b) - pcrFileSelection - 4) / pcrFileDigests
	if n != chunks || n > pcrFileMaxChunks {
		return nil, fmt.Errorf("%w: tpm2-tools PCR file says %d digest lists, holds %d", ErrMalformed, n, chunks)
	}
	k := 0
	for c := 0; c < n; c++ {
		d := b[pcrFileSelection+4+c*pcrFileDigests:]
		cnt := int(le.Uint32(d))
		if cnt > 8 {
			return nil, fmt.Errorf("%w: tpm2-tools PCR file: digest list %d has count %d, want at most 8", ErrMalformed, c, cnt)
		}
		for j := 0; j < cnt; j++ {
			e := d[4+j*66:]
			size := int(le.Uint16(e))
			if k >= len(want) {
				return nil, fmt.Errorf("%w: tpm2-tools PCR file holds more digests than its selection (%d)", ErrMalformed, len(want))
			}
			h, _ := bankHash(want[k].bank)
			if size != h.Size() {
				return nil, fmt.Errorf("%w: tpm2-tools PCR file: %s PCR %d digest is %d bytes, want %d", ErrMalformed, bankName(want[k].bank), want[k].pcr, size, h.Size())
			}
			if f.Values[want[k].bank] == nil {
				f.Values[want[k].bank] = map[int][]byte{}
			}
			f.Values[want[k].bank][want[k].pcr] = bytes.Clone(e[2 : 2+size])
			k++
		}
	}
	if k != len(want) {
		return nil, fmt.Errorf("%w: tpm2-tools PCR file holds %d digests, its selection %d", ErrMalformed, k, len(want))
	}
	return f, nil
}

// MarshalPCRFile writes the tpm2-tools serialized PCR file for the given
// selection and values (the inverse of ParsePCRFile).
func MarshalPCRFile(f *PCRFile) []byte {
	le := binary.LittleEndian
	out := make([]byte, pcrFileSelection+4)
	le.PutUint32(out, uint32(len(f.Selection)))
	var vals [][]byte
	for i, s := range f.Selection {
		if i >= pcrFileMaxBanks {
			break
		}
		e := out[4+8*i:]
		le.PutUint16(e, uint16(s.Hash))
		e[2] = byte(min(len(s.PCRSelect), 4))
		copy(e[3:7], s.PCRSelect)
		for _, p := range Selected(s) {
			vals = append(vals, f.Values[s.Hash][p])
		}
	}
	var chunks [][]byte
	for len(vals) > 0 {
		n := min(8, len(vals))
		c := make([]byte, pcrFileDigests)
		le.PutUint32(c, uint32(n))
		for j, v := range vals[:n] {
			le.PutUint16(c[4+j*66:], uint16(len(v)))
			copy(c[4+j*66+2:4+j*66+66], v)
		}
		chunks, vals = append(chunks, c), vals[n:]
	}
	le.PutUint32(out[pcrFileSelection:], uint32(len(chunks)))
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}

// sortedBanks returns the banks of p in a stable order.
func sortedBanks(p PCRs) []tpm2.TPMAlgID {
	var out []tpm2.TPMAlgID
	for b := range p {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func emptyAttest() *tpm2.TPMSAttest { return &tpm2.TPMSAttest{} }

func quoteInfo(f *PCRFile) *tpm2.TPMSQuoteInfo {
	return &tpm2.TPMSQuoteInfo{PCRSelect: tpm2.TPMLPCRSelection{PCRSelections: f.Selection}}
}
