package ccel

import (
	"fmt"

	"github.com/assay-dev/assay/internal/eventlog/uefi"
)

// EventType is the eventType field of an event (TCG PC Client Platform
// Firmware Profile (PFP) Specification, version 1.06, section 10.4.1,
// Table 9 "Events").
type EventType uint32

// Event types of PFP Table 9 that a CC event log carries or that this
// package decodes.
const (
	EvPrebootCert                EventType = 0x00000000
	EvPostCode                   EventType = 0x00000001
	EvNoAction                   EventType = 0x00000003
	EvSeparator                  EventType = 0x00000004
	EvAction                     EventType = 0x00000005
	EvEventTag                   EventType = 0x00000006
	EvSCRTMContents              EventType = 0x00000007
	EvSCRTMVersion               EventType = 0x00000008
	EvCPUMicrocode               EventType = 0x00000009
	EvPlatformConfigFlags        EventType = 0x0000000A
	EvTableOfDevices             EventType = 0x0000000B
	EvCompactHash                EventType = 0x0000000C
	EvIPL                        EventType = 0x0000000D
	EvIPLPartitionData           EventType = 0x0000000E
	EvNonhostCode                EventType = 0x0000000F
	EvNonhostConfig              EventType = 0x00000010
	EvNonhostInfo                EventType = 0x00000011
	EvOmitBootDeviceEvents       EventType = 0x00000012
	EvPostCode2                  EventType = 0x00000013
	EvEFIVariableDriverConfig    EventType = 0x80000001
	EvEFIVariableBoot            EventType = 0x80000002
	EvEFIBootServicesApplication EventType = 0x80000003
	EvEFIBootServicesDriver      EventType = 0x80000004
	EvEFIRuntimeServicesDriver   EventType = 0x80000005
	EvEFIGPTEvent                EventType = 0x80000006
	EvEFIAction                  EventType = 0x80000007
	EvEFIPlatformFirmwareBlob    EventType = 0x80000008
	EvEFIHandoffTables           EventType = 0x80000009
	EvEFIPlatformFirmwareBlob2   EventType = 0x8000000A
	EvEFIHandoffTables2          EventType = 0x8000000B
	EvEFIVariableBoot2           EventType = 0x8000000C
	EvEFIGPTEvent2               EventType = 0x8000000D
	EvEFIHCRTMEvent              EventType = 0x80000010
	EvEFIVariableAuthority       EventType = 0x800000E0
	EvEFISPDMFirmwareBlob        EventType = 0x800000E1
	EvEFISPDMFirmwareConfig      EventType = 0x800000E2
	EvEFISPDMDevicePolicy        EventType = 0x800000E3
	EvEFISPDMDeviceAuthority     EventType = 0x800000E4
)

// String returns the PFP name (EV_IPL), or the value in hex when the type
// is not in Table 9.
func (t EventType) String() string { return uefi.EventTypeName(uint32(t)) }

// AlgID is a TPM_ALG_ID (TCG Algorithm Registry, revision 1.34, Table 3).
type AlgID uint16

// Hash algorithms a CC event log may declare.
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

// algInfo gives the registry name and digest size of the known algorithms.
var algInfo = map[AlgID]struct {
	name string
	size int
}{
	AlgSHA1:     {"sha1", 20},
	AlgSHA256:   {"sha256", 32},
	AlgSHA384:   {"sha384", 48},
	AlgSHA512:   {"sha512", 64},
	AlgSM3_256:  {"sm3_256", 32},
	AlgSHA3_256: {"sha3_256", 32},
	AlgSHA3_384: {"sha3_384", 48},
	AlgSHA3_512: {"sha3_512", 64},
}

// String returns the registry name in lower case (sha384), or the value in
// hex.
func (a AlgID) String() string {
	if i, ok := algInfo[a]; ok {
		return i.name
	}
	return fmt.Sprintf("0x%04x", uint16(a))
}
