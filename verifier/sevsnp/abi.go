package sevsnp

import (
	"encoding/binary"
	"fmt"
)

// Layout of ATTESTATION_REPORT, AMD SEV-SNP Firmware ABI Specification
// (publication 56860) rev. 1.58, Table 23; earlier revisions define
// versions 2 (rev. 1.51), 3 (rev. 1.55: CPUID fields) and 4 (rev. 1.56).
// Version 5 (rev. 1.58) adds LAUNCH_MIT_VECTOR and CURRENT_MIT_VECTOR.
const (
	// ReportSize is the size of an attestation report in bytes.
	ReportSize = 0x4A0
	// SignedSize is the size of the signed region (offsets 0h-29Fh).
	SignedSize = 0x2A0

	offVersion       = 0x00
	offGuestSVN      = 0x04
	offPolicy        = 0x08
	offFamilyID      = 0x10
	offImageID       = 0x20
	offVMPL          = 0x30
	offSignatureAlgo = 0x34
	offCurrentTCB    = 0x38
	offPlatformInfo  = 0x40
	offKeyInfo       = 0x48 // AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY
	offReserved4C    = 0x4C
	offReportData    = 0x50
	offMeasurement   = 0x90
	offHostData      = 0xC0
	offIDKeyDigest   = 0xE0
	offAuthorKey     = 0x110
	offReportID      = 0x140
	offReportIDMA    = 0x160
	offReportedTCB   = 0x180
	offCPUIDFamID    = 0x188 // version >= 3
	offCPUIDModID    = 0x189
	offCPUIDStep     = 0x18A
	offReserved18B   = 0x18B // to 19Fh
	offChipID        = 0x1A0
	offCommittedTCB  = 0x1E0
	offCurrentBuild  = 0x1E8
	offCurrentMinor  = 0x1E9
	offCurrentMajor  = 0x1EA
	offReserved1EB   = 0x1EB
	offCommitBuild   = 0x1EC
	offCommitMinor   = 0x1ED
	offCommitMajor   = 0x1EE
	offReserved1EF   = 0x1EF
	offLaunchTCB     = 0x1F0
	offLaunchMit     = 0x1F8 // version >= 5
	offCurrentMit    = 0x200 // version >= 5
	offReservedTail  = 0x208 // to 29Fh (1F8h for versions < 5)
	offSignature     = 0x2A0

	// ECDSA P-384 signature, Table 139 (ECDSA_SIG): R and S are 72-byte
	// little-endian fields; the rest of the 512-byte field is reserved.
	sigComponentSize = 72
	p384Size         = 48
)

// Minimum and maximum report versions this package understands.
const (
	MinVersion = 2
	MaxVersion = 5
)

// SigAlgoECDSAP384SHA384 is the only SIGNATURE_ALGO defined (Table 138).
const SigAlgoECDSAP384SHA384 = 1

// Report is an SEV-SNP ATTESTATION_REPORT with its fields decoded. Fixed
// arrays are copies: a Report does not alias the bytes it was parsed from.
type Report struct {
	Version         uint32   // VERSION
	GuestSVN        uint32   // GUEST_SVN
	Policy          uint64   // POLICY (Table 9, GUEST_POLICY)
	FamilyID        [16]byte // FAMILY_ID
	ImageID         [16]byte // IMAGE_ID
	VMPL            uint32   // VMPL
	SignatureAlgo   uint32   // SIGNATURE_ALGO
	CurrentTCB      uint64   // CURRENT_TCB (TCB_VERSION)
	PlatformInfo    uint64   // PLATFORM_INFO
	KeyInfo         uint32   // bits at 48h: AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY
	ReportData      [64]byte // REPORT_DATA
	Measurement     [48]byte // MEASUREMENT
	HostData        [32]byte // HOST_DATA
	IDKeyDigest     [48]byte // ID_KEY_DIGEST
	AuthorKeyDigest [48]byte // AUTHOR_KEY_DIGEST
	ReportID        [32]byte // REPORT_ID
	ReportIDMA      [32]byte // REPORT_ID_MA
	ReportedTCB     uint64   // REPORTED_TCB
	CPUIDFamID      uint8    // CPUID_FAM_ID (version >= 3)
	CPUIDModID      uint8    // CPUID_MOD_ID (version >= 3)
	CPUIDStep       uint8    // CPUID_STEP (version >= 3)
	ChipID          [64]byte // CHIP_ID
	CommittedTCB    uint64   // COMMITTED_TCB
	CurrentBuild    uint8    // CURRENT_BUILD
	CurrentMinor    uint8    // CURRENT_MINOR
	CurrentMajor    uint8    // CURRENT_MAJOR
	CommittedBuild  uint8    // COMMITTED_BUILD
	CommittedMinor  uint8    // COMMITTED_MINOR
	CommittedMajor  uint8    // COMMITTED_MAJOR
	LaunchTCB       uint64   // LAUNCH_TCB
	LaunchMitVector uint64   // LAUNCH_MIT_VECTOR (version >= 5)
	CurrentMitVec   uint64   // CURRENT_MIT_VECTOR (version >= 5)
	// SignatureR and SignatureS are the big-endian P-384 scalars, converted
	// from the report's little-endian ECDSA_SIG fields.
	SignatureR [p384Size]byte
	SignatureS [p384Size]byte
}

// Signing keys named by KEY_INFO bits 4:2 (Table 23).
const (
	SigningKeyVCEK = 0
	SigningKeyVLEK = 1
	SigningKeyNone = 7
)

// AuthorKeyEn reports AUTHOR_KEY_EN (bit 0 at 48h).
func (r *Report) AuthorKeyEn() bool { return r.KeyInfo&1 != 0 }

// MaskChipKey reports MASK_CHIP_KEY (bit 1 at 48h).
func (r *Report) MaskChipKey() bool { return r.KeyInfo&2 != 0 }

// SigningKey returns SIGNING_KEY (bits 4:2 at 48h).
func (r *Report) SigningKey() uint32 { return (r.KeyInfo >> 2) & 7 }

// Signed returns the signed region of the report (offsets 0h-29Fh), as
// Marshal encodes it. Because Parse accepts only reports that Marshal
// reproduces byte for byte, this is the region the firmware signed.
func (r *Report) Signed() []byte { return r.Marshal()[:SignedSize] }

// Parse decodes an attestation report. It checks structure only: the
// length, a known version and signature algorithm, and that every field the
// ABI reserves (must be zero) is zero, including the unused high bytes of R
// and S and the tail of the signature field. It does no cryptography.
func Parse(b []byte) (*Report, error) {
	if len(b) != ReportSize {
		return nil, fmt.Errorf("%w: attestation report is %d bytes, want %d", ErrMalformed, len(b), ReportSize)
	}
	r := &Report{}
	le := binary.LittleEndian
	r.Version = le.Uint32(b[offVersion:])
	if r.Version < MinVersion || r.Version > MaxVersion {
		return nil, fmt.Errorf("%w: report VERSION is %d, this verifier understands %d to %d", ErrMalformed, r.Version, MinVersion, MaxVersion)
	}
	r.GuestSVN = le.Uint32(b[offGuestSVN:])
	r.Policy = le.Uint64(b[offPolicy:])
	copy(r.FamilyID[:], b[offFamilyID:])
	copy(r.ImageID[:], b[offImageID:])
	r.VMPL = le.Uint32(b[offVMPL:])
	r.SignatureAlgo = le.Uint32(b[offSignatureAlgo:])
	r.CurrentTCB = le.Uint64(b[offCurrentTCB:])
	r.PlatformInfo = le.Uint64(b[offPlatformInfo:])
	r.KeyInfo = le.Uint32(b[offKeyInfo:])
	copy(r.ReportData[:], b[offReportData:])
	copy(r.Measurement[:], b[offMeasurement:])
	copy(r.HostData[:], b[offHostData:])
	copy(r.IDKeyDigest[:], b[offIDKeyDigest:])
	copy(r.AuthorKeyDigest[:], b[offAuthorKey:])
	copy(r.ReportID[:], b[offReportID:])
	copy(r.ReportIDMA[:], b[offReportIDMA:])
	r.ReportedTCB = le.Uint64(b[offReportedTCB:])
	copy(r.ChipID[:], b[offChipID:])
	r.CommittedTCB = le.Uint64(b[offCommittedTCB:])
	r.LaunchTCB = le.Uint64(b[offLaunchTCB:])

	if r.Version >= 3 {
		r.CPUIDFamID = b[offCPUIDFamID]
		r.CPUIDModID = b[offCPUIDModID]
		r.CPUIDStep = b[offCPUIDStep]
	}
	r.CurrentBuild, r.CurrentMinor, r.CurrentMajor = b[offCurrentBuild], b[offCurrentMinor], b[offCurrentMajor]
	r.CommittedBuild, r.CommittedMinor, r.CommittedMajor = b[offCommitBuild], b[offCommitMinor], b[offCommitMajor]
	if r.Version >= 5 {
		r.LaunchMitVector = le.Uint64(b[offLaunchMit:])
		r.CurrentMitVec = le.Uint64(b[offCurrentMit:])
	}
	for _, f := range reservedRanges(r.Version) {
		if i := firstNonZero(b[f.from:f.to]); i >= 0 {
			return nil, fmt.Errorf("%w: %s must be zero, byte at %Xh is %#02x", ErrMalformed, f.name, f.from+i, b[f.from+i])
		}
	}
	if r.KeyInfo&^0x1F != 0 {
		return nil, fmt.Errorf("%w: reserved bits of KEY_INFO (48h) are set: %#x", ErrMalformed, r.KeyInfo)
	}
	if r.SignatureAlgo != SigAlgoECDSAP384SHA384 {
		return nil, fmt.Errorf("%w: SIGNATURE_ALGO is %d, want %d (ECDSA P-384 with SHA-384)", ErrMalformed, r.SignatureAlgo, SigAlgoECDSAP384SHA384)
	}
	if sk := r.SigningKey(); sk != SigningKeyVCEK && sk != SigningKeyVLEK && sk != SigningKeyNone {
		return nil, fmt.Errorf("%w: SIGNING_KEY is %d, want 0 (VCEK), 1 (VLEK) or 7 (none)", ErrMalformed, sk)
	}
	if r.VMPL > 3 {
		return nil, fmt.Errorf("%w: VMPL is %d, want 0 to 3", ErrMalformed, r.VMPL)
	}
	// GUEST_POLICY bit 17 is reserved and must be one (Table 9).
	if r.Policy&policyReserved1 == 0 {
		return nil, fmt.Errorf("%w: POLICY bit 17 is reserved and must be 1, policy is %#x", ErrMalformed, r.Policy)
	}
	sig := b[offSignature:]
	reverseInto(r.SignatureR[:], sig[:p384Size])
	reverseInto(r.SignatureS[:], sig[sigComponentSize:sigComponentSize+p384Size])
	return r, nil
}

// reservedRange is a span of the report that the ABI reserves as zero.
type reservedRange struct {
	name     string
	from, to int // [from, to)
}

// reservedRanges lists the must-be-zero spans for a report version.
func reservedRanges(version uint32) []reservedRange {
	rs := []reservedRange{
		{"reserved 4Ch-4Fh", offReserved4C, offReportData},
		{"reserved 18Bh-19Fh", offReserved18B, offChipID},
		{"reserved 1EBh", offReserved1EB, offCommitBuild},
		{"reserved 1EFh", offReserved1EF, offLaunchTCB},
	}
	if version < 3 {
		rs = append(rs, reservedRange{"CPUID fields 188h-18Ah (reserved before version 3)", offCPUIDFamID, offReserved18B})
	}
	tail := offLaunchMit
	if version >= 5 {
		tail = offReservedTail
	}
	return append(rs,
		reservedRange{fmt.Sprintf("reserved %Xh-29Fh", tail), tail, SignedSize},
		reservedRange{"signature R above 384 bits", offSignature + p384Size, offSignature + sigComponentSize},
		reservedRange{"signature S above 384 bits", offSignature + sigComponentSize + p384Size, offSignature + 2*sigComponentSize},
		reservedRange{"reserved tail of the signature field", offSignature + 2*sigComponentSize, ReportSize},
	)
}

// Marshal encodes the report's fields in the ABI layout. For a report
// returned by Parse, Marshal returns exactly the parsed bytes (Parse
// rejects anything it would not reproduce). Tests use it to build reports.
func (r *Report) Marshal() []byte {
	b := make([]byte, ReportSize)
	le := binary.LittleEndian
	le.PutUint32(b[offVersion:], r.Version)
	le.PutUint32(b[offGuestSVN:], r.GuestSVN)
	le.PutUint64(b[offPolicy:], r.Policy)
	copy(b[offFamilyID:], r.FamilyID[:])
	copy(b[offImageID:], r.ImageID[:])
	le.PutUint32(b[offVMPL:], r.VMPL)
	le.PutUint32(b[offSignatureAlgo:], r.SignatureAlgo)
	le.PutUint64(b[offCurrentTCB:], r.CurrentTCB)
	le.PutUint64(b[offPlatformInfo:], r.PlatformInfo)
	le.PutUint32(b[offKeyInfo:], r.KeyInfo)
	copy(b[offReportData:], r.ReportData[:])
	copy(b[offMeasurement:], r.Measurement[:])
	copy(b[offHostData:], r.HostData[:])
	copy(b[offIDKeyDigest:], r.IDKeyDigest[:])
	copy(b[offAuthorKey:], r.AuthorKeyDigest[:])
	copy(b[offReportID:], r.ReportID[:])
	copy(b[offReportIDMA:], r.ReportIDMA[:])
	le.PutUint64(b[offReportedTCB:], r.ReportedTCB)
	if r.Version >= 3 {
		b[offCPUIDFamID], b[offCPUIDModID], b[offCPUIDStep] = r.CPUIDFamID, r.CPUIDModID, r.CPUIDStep
	}
	copy(b[offChipID:], r.ChipID[:])
	le.PutUint64(b[offCommittedTCB:], r.CommittedTCB)
	b[offCurrentBuild], b[offCurrentMinor], b[offCurrentMajor] = r.CurrentBuild, r.CurrentMinor, r.CurrentMajor
	b[offCommitBuild], b[offCommitMinor], b[offCommitMajor] = r.CommittedBuild, r.CommittedMinor, r.CommittedMajor
	le.PutUint64(b[offLaunchTCB:], r.LaunchTCB)
	if r.Version >= 5 {
		le.PutUint64(b[offLaunchMit:], r.LaunchMitVector)
		le.PutUint64(b[offCurrentMit:], r.CurrentMitVec)
	}
	reverseInto(b[offSignature:offSignature+p384Size], r.SignatureR[:])
	reverseInto(b[offSignature+sigComponentSize:offSignature+sigComponentSize+p384Size], r.SignatureS[:])
	return b
}

func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

func reverseInto(dst, src []byte) {
	for i := range src {
		dst[len(src)-1-i] = src[i]
	}
}
