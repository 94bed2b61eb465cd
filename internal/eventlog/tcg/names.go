package tcg

import (
	"crypto"

	"github.com/assay-dev/assay/internal/eventlog/uefi"
)

// Event types of the TCG PC Client Platform Firmware Profile (PFP)
// Specification, version 1.06, section 10.4.1, Table 9 "Events". Event.Type
// holds them as the uint32 the log carries; EventTypeName names them.
const (
	EvPrebootCert                uint32 = 0x00000000
	EvPostCode                   uint32 = 0x00000001
	EvNoAction                   uint32 = 0x00000003
	EvSeparator                  uint32 = 0x00000004
	EvAction                     uint32 = 0x00000005
	EvEventTag                   uint32 = 0x00000006
	EvSCRTMContents              uint32 = 0x00000007
	EvSCRTMVersion               uint32 = 0x00000008
	EvCPUMicrocode               uint32 = 0x00000009
	EvPlatformConfigFlags        uint32 = 0x0000000A
	EvTableOfDevices             uint32 = 0x0000000B
	EvCompactHash                uint32 = 0x0000000C
	EvIPL                        uint32 = 0x0000000D
	EvIPLPartitionData           uint32 = 0x0000000E
	EvNonhostCode                uint32 = 0x0000000F
	EvNonhostConfig              uint32 = 0x00000010
	EvNonhostInfo                uint32 = 0x00000011
	EvOmitBootDeviceEvents       uint32 = 0x00000012
	EvPostCode2                  uint32 = 0x00000013
	EvEFIVariableDriverConfig    uint32 = 0x80000001
	EvEFIVariableBoot            uint32 = 0x80000002
	EvEFIBootServicesApplication uint32 = 0x80000003
	EvEFIBootServicesDriver      uint32 = 0x80000004
	EvEFIRuntimeServicesDriver   uint32 = 0x80000005
	EvEFIGPTEvent                uint32 = 0x80000006
	EvEFIAction                  uint32 = 0x80000007
	EvEFIPlatformFirmwareBlob    uint32 = 0x80000008
	EvEFIHandoffTables           uint32 = 0x80000009
	EvEFIPlatformFirmwareBlob2   uint32 = 0x8000000A
	EvEFIHandoffTables2          uint32 = 0x8000000B
	EvEFIVariableBoot2           uint32 = 0x8000000C
	EvEFIGPTEvent2               uint32 = 0x8000000D
	EvEFIHCRTMEvent              uint32 = 0x80000010
	EvEFIVariableAuthority       uint32 = 0x800000E0
	EvEFISPDMFirmwareBlob        uint32 = 0x800000E1
	EvEFISPDMFirmwareConfig      uint32 = 0x800000E2
	EvEFISPDMDevicePolicy        uint32 = 0x800000E3
	EvEFISPDMDeviceAuthority     uint32 = 0x800000E4
)

// EventTypeName returns the PFP name of an event type (EV_IPL), or the
// value in hex when it is not in Table 9.
func EventTypeName(t uint32) string { return uefi.EventTypeName(t) }

// AlgID is a TPM_ALG_ID (TCG Algorithm Registry, revision 1.34, Table 3).
type AlgID = uefi.AlgID

// Hash algorithms an event log may declare.
const (
	AlgSHA1     = uefi.AlgSHA1
	AlgSHA256   = uefi.AlgSHA256
	AlgSHA384   = uefi.AlgSHA384
	AlgSHA512   = uefi.AlgSHA512
	AlgSM3_256  = uefi.AlgSM3_256
	AlgSHA3_256 = uefi.AlgSHA3_256
	AlgSHA3_384 = uefi.AlgSHA3_384
	AlgSHA3_512 = uefi.AlgSHA3_512
)

// HashName returns the registry name of a Go hash as the claims spell it
// ("sha256"), or its Go name.
func HashName(h crypto.Hash) string {
	if a := uefi.AlgOf(h); a != 0 {
		return a.String()
	}
	return h.String()
}
