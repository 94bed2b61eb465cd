package uefi

import (
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
)

// AlgID is a TPM_ALG_ID (TCG Algorithm Registry, revision 1.34, Table 3).
type AlgID uint16

// Hash algorithms an event log may declare.
const (
	AlgSHA1     AlgID = 0x0004
	AlgSHA256   AlgID = 0x000B
	AlgSHA384   AlgID = 0x000C
	AlgSHA512   AlgID = 0x000D
	AlgSM3_256  AlgID = 0x0012
	AlgSHA3_256 AlgID = 0x0027
	AlgSHA3_384 AlgID = 0x0028
	AlgSHA3_512 AlgID = 0x0029
)

// algInfo gives the registry name, digest size and Go hash of the known
// algorithms; SM3 has no crypto.Hash (hash 0).
var algInfo = map[AlgID]struct {
	name string
	size int
	hash crypto.Hash
}{
	AlgSHA1:     {"sha1", 20, crypto.SHA1},
	AlgSHA256:   {"sha256", 32, crypto.SHA256},
	AlgSHA384:   {"sha384", 48, crypto.SHA384},
	AlgSHA512:   {"sha512", 64, crypto.SHA512},
	AlgSM3_256:  {"sm3_256", 32, 0},
	AlgSHA3_256: {"sha3_256", 32, crypto.SHA3_256},
	AlgSHA3_384: {"sha3_384", 48, crypto.SHA3_384},
	AlgSHA3_512: {"sha3_512", 64, crypto.SHA3_512},
}

// String returns the registry name in lower case (sha256), or the value in
// hex.
func (a AlgID) String() string {
	if i, ok := algInfo[a]; ok {
		return i.name
	}
	return fmt.Sprintf("0x%04x", uint16(a))
}

// Hash returns the Go hash of the algorithm, or 0 when it has none (SM3,
// unknown IDs).
func (a AlgID) Hash() crypto.Hash { return algInfo[a].hash }

// Size returns the digest size of a known algorithm, or 0.
func (a AlgID) Size() int { return algInfo[a].size }

// AlgOf returns the TPM_ALG_ID of a Go hash, or 0.
func AlgOf(h crypto.Hash) AlgID {
	if h == 0 {
		return 0
	}
	for id, i := range algInfo {
		if i.hash == h {
			return id
		}
	}
	return 0
}

// SpecIDSignature opens the Spec ID event of a crypto-agile log (PFP 1.06
// section 10.4.5.1): "Spec ID Event03" and a NUL.
const SpecIDSignature = "Spec ID Event03\x00"

// TCG_EfiSpecIdEvent layout (PFP 1.06 section 10.4.5.1).
const (
	specIDFixedSize     = 28 // signature[16] .. numberOfAlgorithms
	maxSpecIDAlgorithms = 16 // more banks than the registry has hashes is not a log
)

// SpecID is the TCG_EfiSpecIdEvent (PFP 1.06 section 10.4.5.1,
// "Specification ID Version Event") whose digest sizes say how to read
// every later event of a crypto-agile log, TPM or CC.
type SpecID struct {
	PlatformClass    uint32 // platformClass: 0 client, 1 server
	SpecVersionMinor uint8  // specVersionMinor
	SpecVersionMajor uint8  // specVersionMajor
	SpecErrata       uint8  // specErrata
	UINTNSize        uint8  // uintnSize: 1 = UINT32, 2 = UINT64
	// Algorithms is digestSizes: the banks every event may carry.
	Algorithms []Algorithm
	VendorInfo []byte // vendorInfo
}

// Algorithm is one TCG_EfiSpecIdEventAlgorithmSize.
type Algorithm struct {
	ID   AlgID  // algorithmId
	Size uint16 // digestSize
}

// ErrNotSpecID is returned by ParseSpecID when the data does not open with
// the Spec ID Event03 signature (not a crypto-agile log).
var ErrNotSpecID = errors.New("not a Spec ID Event03")

// ParseSpecID reads the event data of a Spec ID event: every declared
// bank once, each known algorithm with its registry digest size, at most
// 16 banks, and vendorInfo filling the rest exactly. Errors name the field
// at fault; callers wrap them in their package's malformed-log error.
func ParseSpecID(d []byte) (*SpecID, error) {
	if len(d) < specIDFixedSize || string(d[:16]) != SpecIDSignature {
		return nil, fmt.Errorf("%w: %d bytes, want the %q signature and a %d-byte fixed part", ErrNotSpecID, len(d), SpecIDSignature[:15], specIDFixedSize)
	}
	s := &SpecID{
		PlatformClass:    binary.LittleEndian.Uint32(d[16:]),
		SpecVersionMinor: d[20],
		SpecVersionMajor: d[21],
		SpecErrata:       d[22],
		UINTNSize:        d[23],
	}
	n := binary.LittleEndian.Uint32(d[24:])
	rest := d[specIDFixedSize:]
	if n == 0 || n > maxSpecIDAlgorithms || uint64(n)*4 > uint64(len(rest)) {
		return nil, fmt.Errorf("the Spec ID event declares %d algorithms in %d bytes", n, len(rest))
	}
	for i := 0; i < int(n); i++ {
		a := Algorithm{ID: AlgID(binary.LittleEndian.Uint16(rest[4*i:])), Size: binary.LittleEndian.Uint16(rest[4*i+2:])}
		if a.Size == 0 {
			return nil, fmt.Errorf("the Spec ID digest size of %s is 0", a.ID)
		}
		if want := a.ID.Size(); want != 0 && int(a.Size) != want {
			return nil, fmt.Errorf("the Spec ID digest size of %s is %d, want %d", a.ID, a.Size, want)
		}
		for _, prev := range s.Algorithms {
			if prev.ID == a.ID {
				return nil, fmt.Errorf("the Spec ID lists %s twice", a.ID)
			}
		}
		s.Algorithms = append(s.Algorithms, a)
	}
	rest = rest[4*n:]
	if len(rest) < 1 {
		return nil, errors.New("the Spec ID event ends before vendorInfoSize")
	}
	if vn := int(rest[0]); len(rest)-1 != vn {
		return nil, fmt.Errorf("the Spec ID vendorInfoSize is %d, %d bytes follow", vn, len(rest)-1)
	}
	s.VendorInfo = rest[1:]
	return s, nil
}
