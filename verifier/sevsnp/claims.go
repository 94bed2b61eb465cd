package sevsnp

import (
	"encoding/hex"
	"fmt"
)

// Claims are the report's fields, named after the SNP ABI in snake_case,
// with bytes as lowercase hex and bit fields decoded. They are the input
// to policy and the body of an attestation result.
type Claims struct {
	Version         uint32       `json:"version"`
	GuestSVN        uint32       `json:"guest_svn"`
	Policy          PolicyClaims `json:"policy"`
	FamilyID        string       `json:"family_id"`
	ImageID         string       `json:"image_id"`
	VMPL            uint32       `json:"vmpl"`
	SignatureAlgo   uint32       `json:"signature_algo"`
	CurrentTCB      TCB          `json:"current_tcb"`
	ReportedTCB     TCB          `json:"reported_tcb"`
	CommittedTCB    TCB          `json:"committed_tcb"`
	LaunchTCB       TCB          `json:"launch_tcb"`
	PlatformInfo    PlatformInfo `json:"platform_info"`
	AuthorKeyEn     bool         `json:"author_key_en"`
	MaskChipKey     bool         `json:"mask_chip_key"`
	Signer          string       `json:"signer"`
	Product         string       `json:"product"`
	ReportData      string       `json:"report_data"`
	Measurement     string       `json:"measurement"`
	HostData        string       `json:"host_data"`
	IDKeyDigest     string       `json:"id_key_digest"`
	AuthorKeyDigest string       `json:"author_key_digest"`
	ReportID        string       `json:"report_id"`
	ReportIDMA      string       `json:"report_id_ma"`
	ChipID          string       `json:"chip_id"`
	CPUIDFamID      *uint8       `json:"cpuid_fam_id,omitempty"`
	CPUIDModID      *uint8       `json:"cpuid_mod_id,omitempty"`
	CPUIDStep       *uint8       `json:"cpuid_step,omitempty"`
	CurrentVersion  string       `json:"current_version"`   // CURRENT_MAJOR.CURRENT_MINOR.CURRENT_BUILD
	CommittedVer    string       `json:"committed_version"` // COMMITTED_MAJOR.COMMITTED_MINOR.COMMITTED_BUILD
	LaunchMitVector *string      `json:"launch_mit_vector,omitempty"`
	CurrentMitVec   *string      `json:"current_mit_vector,omitempty"`
	// CSPID names the cloud provider a VLEK was issued to.
	CSPID string `json:"csp_id,omitempty"`
}

// PolicyClaims is GUEST_POLICY decoded (SNP ABI Table 9).
type PolicyClaims struct {
	Raw              string `json:"raw"`
	ABIMajor         uint8  `json:"abi_major"`
	ABIMinor         uint8  `json:"abi_minor"`
	SMT              bool   `json:"smt"`
	MigrateMA        bool   `json:"migrate_ma"`
	Debug            bool   `json:"debug"`
	SingleSocket     bool   `json:"single_socket"`
	CXLAllow         bool   `json:"cxl_allow"`
	MemAES256XTS     bool   `json:"mem_aes_256_xts"`
	RAPLDis          bool   `json:"rapl_dis"`
	CiphertextHiding bool   `json:"ciphertext_hiding"`
	PageSwapDisable  bool   `json:"page_swap_disable"`
	// ReservedBits are set bits the ABI reserves (bits 26-63); they mean
	// something this verifier does not know, and the default policy refuses
	// them.
	ReservedBits string `json:"reserved_bits,omitempty"`
}

// GUEST_POLICY bits, SNP ABI Table 9.
const (
	policySMT              = 1 << 16
	policyReserved1        = 1 << 17 // must be one
	policyMigrateMA        = 1 << 18
	policyDebug            = 1 << 19
	policySingleSocket     = 1 << 20
	policyCXLAllow         = 1 << 21
	policyMemAES256XTS     = 1 << 22
	policyRAPLDis          = 1 << 23
	policyCiphertextHiding = 1 << 24
	policyPageSwapDisable  = 1 << 25
	policyReservedMask     = uint64(0xFFFFFFFFFC000000) // bits 63:26
)

// DecodePolicy decodes GUEST_POLICY.
func DecodePolicy(p uint64) PolicyClaims {
	c := PolicyClaims{
		Raw:              fmt.Sprintf("%#x", p),
		ABIMinor:         uint8(p),
		ABIMajor:         uint8(p >> 8),
		SMT:              p&policySMT != 0,
		MigrateMA:        p&policyMigrateMA != 0,
		Debug:            p&policyDebug != 0,
		SingleSocket:     p&policySingleSocket != 0,
		CXLAllow:         p&policyCXLAllow != 0,
		MemAES256XTS:     p&policyMemAES256XTS != 0,
		RAPLDis:          p&policyRAPLDis != 0,
		CiphertextHiding: p&policyCiphertextHiding != 0,
		PageSwapDisable:  p&policyPageSwapDisable != 0,
	}
	if r := p & policyReservedMask; r != 0 {
		c.ReservedBits = fmt.Sprintf("%#x", r)
	}
	return c
}

// PlatformInfo is PLATFORM_INFO decoded (SNP ABI Table 24).
type PlatformInfo struct {
	Raw                     string `json:"raw"`
	SMTEnabled              bool   `json:"smt_en"`
	TSMEEnabled             bool   `json:"tsme_en"`
	ECCEnabled              bool   `json:"ecc_en"`
	RAPLDisabled            bool   `json:"rapl_dis"`
	CiphertextHidingEnabled bool   `json:"ciphertext_hiding_en"`
	AliasCheckComplete      bool   `json:"alias_check_complete"`
}

// DecodePlatformInfo decodes PLATFORM_INFO.
func DecodePlatformInfo(v uint64) PlatformInfo {
	return PlatformInfo{
		Raw:                     fmt.Sprintf("%#x", v),
		SMTEnabled:              v&(1<<0) != 0,
		TSMEEnabled:             v&(1<<1) != 0,
		ECCEnabled:              v&(1<<2) != 0,
		RAPLDisabled:            v&(1<<3) != 0,
		CiphertextHidingEnabled: v&(1<<4) != 0,
		AliasCheckComplete:      v&(1<<5) != 0,
	}
}

// NewClaims builds the claims of a report. The product selects the TCB
// layout; vek, when not nil, adds the signer and provider. Claims built
// from a report that did not verify are what the report says, not what is
// true: only Verify's claims are verified.
func NewClaims(r *Report, p Product, vek *VEK) (*Claims, error) {
	tcbs := make([]TCB, 4)
	for i, raw := range []uint64{r.CurrentTCB, r.ReportedTCB, r.CommittedTCB, r.LaunchTCB} {
		t, err := DecodeTCB(p, raw)
		if err != nil {
			return nil, err
		}
		tcbs[i] = t
	}
	h := hex.EncodeToString
	c := &Claims{
		Version:         r.Version,
		GuestSVN:        r.GuestSVN,
		Policy:          DecodePolicy(r.Policy),
		FamilyID:        h(r.FamilyID[:]),
		ImageID:         h(r.ImageID[:]),
		VMPL:            r.VMPL,
		SignatureAlgo:   r.SignatureAlgo,
		CurrentTCB:      tcbs[0],
		ReportedTCB:     tcbs[1],
		CommittedTCB:    tcbs[2],
		LaunchTCB:       tcbs[3],
		PlatformInfo:    DecodePlatformInfo(r.PlatformInfo),
		AuthorKeyEn:     r.AuthorKeyEn(),
		MaskChipKey:     r.MaskChipKey(),
		Signer:          signerName(r),
		Product:         p.String(),
		ReportData:      h(r.ReportData[:]),
		Measurement:     h(r.Measurement[:]),
		HostData:        h(r.HostData[:]),
		IDKeyDigest:     h(r.IDKeyDigest[:]),
		AuthorKeyDigest: h(r.AuthorKeyDigest[:]),
		ReportID:        h(r.ReportID[:]),
		ReportIDMA:      h(r.ReportIDMA[:]),
		ChipID:          h(r.ChipID[:]),
		CurrentVersion:  fmt.Sprintf("%d.%d.%d", r.CurrentMajor, r.CurrentMinor, r.CurrentBuild),
		CommittedVer:    fmt.Sprintf("%d.%d.%d", r.CommittedMajor, r.CommittedMinor, r.CommittedBuild),
	}
	if r.Version >= 3 {
		fam, mod, step := r.CPUIDFamID, r.CPUIDModID, r.CPUIDStep
		c.CPUIDFamID, c.CPUIDModID, c.CPUIDStep = &fam, &mod, &step
	}
	if r.Version >= 5 {
		l, cur := fmt.Sprintf("%#x", r.LaunchMitVector), fmt.Sprintf("%#x", r.CurrentMitVec)
		c.LaunchMitVector, c.CurrentMitVec = &l, &cur
	}
	if vek != nil && vek.Type == KeyVLEK {
		c.CSPID = vek.CSPID
	}
	return c, nil
}

func signerName(r *Report) string {
	switch r.SigningKey() {
	case SigningKeyVCEK:
		return "vcek"
	case SigningKeyVLEK:
		return "vlek"
	}
	return "none"
}
