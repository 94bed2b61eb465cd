package ccel

import (
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
type AlgID = uefi.AlgID

// Hash algorithms of CC event logs (SHA-384 for TDX RTMRs, SM3 for
// Hygon CSV); uefi has the rest of the registry.
const (
	AlgSHA1    = uefi.AlgSHA1
	AlgSHA256  = uefi.AlgSHA256
	AlgSHA384  = uefi.AlgSHA384
	AlgSM3_256 = uefi.AlgSM3_256
)
