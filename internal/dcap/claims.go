package dcap

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"time"
)

// TCBClaims are the platform claims every DCAP quote carries once
// appraised: what the PCK certifies and what the TCB info says of it.
type TCBClaims struct {
	QuoteVersion uint16 `json:"quote_version"`
	FMSPC        string `json:"fmspc"`
	PCEID        string `json:"pce_id"`
	PCESVN       uint16 `json:"pce_svn"`
	CPUSVN       string `json:"cpu_svn"`
	// SGXTCBComponents are the PCK's SGX TCB component SVNs.
	SGXTCBComponents []uint8 `json:"sgx_tcb_components"`
	// TCBStatus is the converged status of platform, TDX module and QE.
	TCBStatus   string   `json:"tcb_status,omitempty"`
	AdvisoryIDs []string `json:"advisory_ids"`
	TCBDate     string   `json:"tcb_date,omitempty"`
	// TCBSupersededDate is the tcbDate of the TCB recovery that made the
	// matched level out of date: the oldest newer level's, the earliest
	// of platform, TDX module and QE. Empty when nothing is newer.
	TCBSupersededDate string `json:"tcb_superseded_date,omitempty"`
	// Component statuses before convergence.
	PlatformTCBStatus  string `json:"platform_tcb_status,omitempty"`
	TDXModuleTCBStatus string `json:"tdx_module_tcb_status,omitempty"`
	QETCBStatus        string `json:"qe_tcb_status,omitempty"`
	// TCBEvaluationDataNumber of the TCB info used.
	TCBEvaluationDataNumber int `json:"tcb_evaluation_data_number,omitempty"`
}

// NewTCBClaims builds the TCB claims of a verification (partial when the
// verification stopped early).
func NewTCBClaims(q *Quote, v *Verification) TCBClaims {
	c := TCBClaims{QuoteVersion: q.Header.Version, AdvisoryIDs: []string{}}
	if v == nil || v.PCK == nil {
		return c
	}
	c.FMSPC = hex.EncodeToString(v.PCK.FMSPC[:])
	c.PCEID = hex.EncodeToString(v.PCK.PCEID[:])
	c.PCESVN = v.PCK.PCESVN
	c.CPUSVN = hex.EncodeToString(v.PCK.CPUSVN[:])
	c.SGXTCBComponents = append([]uint8{}, v.PCK.SGXComponents[:]...)
	if v.TCBInfo != nil {
		c.TCBEvaluationDataNumber = v.TCBInfo.TCBEvaluationDataNumber
	}
	if v.Platform != nil {
		c.PlatformTCBStatus = string(v.Platform.Status)
	}
	if v.Module != nil {
		c.TDXModuleTCBStatus = string(v.Module.Status)
	}
	if v.QE != nil {
		c.QETCBStatus = string(v.QE.Status)
	}
	if v.TCB != nil {
		c.TCBStatus = string(v.TCB.Status)
		c.AdvisoryIDs = append(c.AdvisoryIDs, v.TCB.Advisory...)
		sort.Strings(c.AdvisoryIDs)
		if !v.TCB.Date.IsZero() {
			c.TCBDate = v.TCB.Date.UTC().Format(time.RFC3339)
		}
		if !v.TCB.Superseded.IsZero() {
			c.TCBSupersededDate = v.TCB.Superseded.UTC().Format(time.RFC3339)
		}
	}
	return c
}

// TDAttributes is TDATTRIBUTES decoded (Intel TDX Module ABI
// specification, TD_PARAMS ATTRIBUTES).
type TDAttributes struct {
	Raw           string `json:"raw"`
	Debug         bool   `json:"debug"`           // bit 0
	SEPTVEDisable bool   `json:"sept_ve_disable"` // bit 28
	Migratable    bool   `json:"migratable"`      // bit 29
	PKS           bool   `json:"pks"`             // bit 30
	KL            bool   `json:"kl"`              // bit 31
	PerfMon       bool   `json:"perfmon"`         // bit 63
}

// DecodeTDAttributes decodes the 8 little-endian bytes of TDATTRIBUTES.
func DecodeTDAttributes(b [8]byte) TDAttributes {
	v := binary.LittleEndian.Uint64(b[:])
	return TDAttributes{
		Raw:           hex.EncodeToString(b[:]),
		Debug:         v&(1<<0) != 0,
		SEPTVEDisable: v&(1<<28) != 0,
		Migratable:    v&(1<<29) != 0,
		PKS:           v&(1<<30) != 0,
		KL:            v&(1<<31) != 0,
		PerfMon:       v&(1<<63) != 0,
	}
}

// SGXAttributes is an enclave's ATTRIBUTES decoded (Intel SDM vol. 3D,
// SECS.ATTRIBUTES).
type SGXAttributes struct {
	Raw          string `json:"raw"`
	Init         bool   `json:"init"`           // bit 0
	Debug        bool   `json:"debug"`          // bit 1
	Mode64Bit    bool   `json:"mode64bit"`      // bit 2
	ProvisionKey bool   `json:"provision_key"`  // bit 4
	EINITToken   bool   `json:"einittoken_key"` // bit 5
	KSS          bool   `json:"kss"`            // bit 7
	AEXNotify    bool   `json:"aex_notify"`     // bit 10
	XFRM         string `json:"xfrm"`
}

// DecodeSGXAttributes decodes ATTRIBUTES (flags u64, XFRM u64).
func DecodeSGXAttributes(b [16]byte) SGXAttributes {
	f := binary.LittleEndian.Uint64(b[:8])
	return SGXAttributes{
		Raw:          hex.EncodeToString(b[:]),
		Init:         f&(1<<0) != 0,
		Debug:        f&(1<<1) != 0,
		Mode64Bit:    f&(1<<2) != 0,
		ProvisionKey: f&(1<<4) != 0,
		EINITToken:   f&(1<<5) != 0,
		KSS:          f&(1<<7) != 0,
		AEXNotify:    f&(1<<10) != 0,
		XFRM:         fmt.Sprintf("%#x", binary.LittleEndian.Uint64(b[8:])),
	}
}
