package azcvm

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
)

// The HCL report is what Azure's paravisor (the HCL, at VMPL0 or in the
// TD's L1) writes to vTPM NV index 0x01400001. Its layout is the IGVM
// attestation report of the OpenHCL/HCL sources (igvm_attest
// IgvmAttestRequest / HCL_REPORT): a 32-byte header, the hardware report
// in a 1184-byte slot, then IGVM_REQUEST_DATA (20 bytes) and the runtime
// data it announces.
const (
	// NVIndex is the vTPM NV index holding the HCL report.
	NVIndex = 0x01400001

	headerSize     = 0x20 // signature, version, report_size, request_type, status, reserved[3]
	hwReportOffset = headerSize
	hwReportSize   = 1184 // SNP_REPORT_SIZE; a TDREPORT (1024 bytes) sits in the same slot
	reqDataOffset  = hwReportOffset + hwReportSize
	reqDataSize    = 20 // data_size, version, report_type, report_data_hash_type, variable_data_size
	runtimeOffset  = reqDataOffset + reqDataSize
	tdReportSize   = 1024

	// maxHCL bounds the HCL report: the NV index holds at most a few KiB.
	maxHCL = 1 << 16
)

// hclSignature is the header's signature, "HCLA" little-endian.
var hclSignature = []byte("HCLA")

// Report types (IGVM_REQUEST_DATA.report_type).
const (
	ReportTypeSNP = 2
	ReportTypeTDX = 4
)

// Hash types of the runtime data (IGVM_REQUEST_DATA.report_data_hash_type).
const (
	HashSHA256 = 1
	HashSHA384 = 2
	HashSHA512 = 3
)

// HCLReport is a parsed HCL report.
type HCLReport struct {
	// Raw is the report exactly as read.
	Raw []byte
	// Version, ReportSize, RequestType and Status are the header fields.
	Version, ReportSize, RequestType, Status uint32
	// HWReport is the hardware report slot: the SNP ATTESTATION_REPORT
	// (1184 bytes) or the TDREPORT (its first 1024 bytes).
	HWReport []byte
	// ReportType is IGVM_REQUEST_DATA.report_type (ReportTypeSNP or
	// ReportTypeTDX); HashType its report_data_hash_type.
	ReportType, HashType uint32
	// RuntimeData is the variable data exactly as in the report, whose
	// hash the hardware report's REPORT_DATA carries.
	RuntimeData []byte
	// Runtime is RuntimeData decoded.
	Runtime *RuntimeData
}

// ParseHCL decodes an HCL report. It checks structure only: no crypto.
// Bytes after the runtime data (the NV index is zero-padded) are ignored.
func ParseHCL(b []byte) (*HCLReport, error) {
	if len(b) < runtimeOffset || len(b) > maxHCL {
		return nil, fmt.Errorf("%w: HCL report is %d bytes, want %d to %d", ErrMalformed, len(b), runtimeOffset, maxHCL)
	}
	if !bytes.Equal(b[:4], hclSignature) {
		return nil, fmt.Errorf("%w: HCL report signature is %q, want %q", ErrMalformed, b[:4], hclSignature)
	}
	le := binary.LittleEndian
	h := &HCLReport{
		Raw:         bytes.Clone(b),
		Version:     le.Uint32(b[4:]),
		ReportSize:  le.Uint32(b[8:]),
		RequestType: le.Uint32(b[12:]),
		Status:      le.Uint32(b[16:]),
		ReportType:  le.Uint32(b[reqDataOffset+8:]),
		HashType:    le.Uint32(b[reqDataOffset+12:]),
	}
	h.HWReport = h.Raw[hwReportOffset : hwReportOffset+hwReportSize]
	if h.ReportType == ReportTypeTDX {
		h.HWReport = h.HWReport[:tdReportSize]
	} else if h.ReportType != ReportTypeSNP {
		return nil, fmt.Errorf("%w: HCL report_type is %d, want %d (SNP) or %d (TDX)", ErrMalformed, h.ReportType, ReportTypeSNP, ReportTypeTDX)
	}
	n := le.Uint32(b[reqDataOffset+16:])
	if uint64(runtimeOffset)+uint64(n) > uint64(len(b)) {
		return nil, fmt.Errorf("%w: HCL runtime data is %d bytes, only %d follow", ErrMalformed, n, len(b)-runtimeOffset)
	}
	if ds := le.Uint32(b[reqDataOffset:]); uint64(ds) != uint64(reqDataSize)+uint64(n) {
		return nil, fmt.Errorf("%w: IGVM_REQUEST_DATA data_size is %d, want %d (header and %d bytes of runtime data)", ErrMalformed, ds, reqDataSize+n, n)
	}
	h.RuntimeData = h.Raw[runtimeOffset : runtimeOffset+int(n)]
	rt, err := ParseRuntimeData(h.RuntimeData)
	if err != nil {
		return nil, err
	}
	h.Runtime = rt
	return h, nil
}

// looksLikeHCL is the sniff: the signature and room for the fixed part.
func looksLikeHCL(b []byte) bool {
	return len(b) >= runtimeOffset && len(b) <= maxHCL && bytes.Equal(b[:4], hclSignature)
}

// RuntimeData is the HCL runtime data JSON: the vTPM keys as a JWK set,
// the VM configuration the host set, and 64 bytes of user data.
type RuntimeData struct {
	Keys            []JWK           `json:"keys"`
	VMConfiguration json.RawMessage `json:"vm-configuration"`
	UserData        string          `json:"user-data"`
	// AK is the key with kid "HCLAkPub".
	AK *rsa.PublicKey `json:"-"`
}

// JWK is one RSA key of the runtime data (RFC 7517, RFC 7518 section 6.3).
type JWK struct {
	KID    string   `json:"kid"`
	KTY    string   `json:"kty"`
	KeyOps []string `json:"key_ops"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

// AKKeyID is the kid of the vTPM attestation key in the runtime data.
const AKKeyID = "HCLAkPub"

// ParseRuntimeData decodes the runtime data JSON and its AK.
func ParseRuntimeData(b []byte) (*RuntimeData, error) {
	var rt RuntimeData
	if err := json.Unmarshal(b, &rt); err != nil {
		return nil, fmt.Errorf("%w: HCL runtime data: %v", ErrMalformed, err)
	}
	for _, k := range rt.Keys {
		if k.KID != AKKeyID {
			continue
		}
		pub, err := rsaFromJWK(k)
		if err != nil {
			return nil, err
		}
		rt.AK = pub
		return &rt, nil
	}
	return nil, fmt.Errorf("%w: HCL runtime data has no key with kid %q", ErrMalformed, AKKeyID)
}

func rsaFromJWK(k JWK) (*rsa.PublicKey, error) {
	if k.KTY != "RSA" {
		return nil, fmt.Errorf("%w: JWK %q has kty %q, want RSA", ErrMalformed, k.KID, k.KTY)
	}
	n, err1 := base64.RawURLEncoding.DecodeString(k.N)
	e, err2 := base64.RawURLEncoding.DecodeString(k.E)
	if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("%w: JWK %q: n or e is not base64url of a plausible RSA key", ErrMalformed, k.KID)
	}
	if len(n) < 256 || len(n) > 512 {
		return nil, fmt.Errorf("%w: JWK %q modulus is %d bits, want 2048 to 4096", ErrMalformed, k.KID, len(n)*8)
	}
	ev := 0
	for _, x := range e {
		ev = ev<<8 | int(x)
	}
	if ev < 3 || ev%2 == 0 {
		return nil, fmt.Errorf("%w: JWK %q exponent %d", ErrMalformed, k.KID, ev)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ev}, nil
}
