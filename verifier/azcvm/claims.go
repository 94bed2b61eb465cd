package azcvm

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/verifier/sevsnp"
	"github.com/assay-dev/assay/verifier/tdx"
	"github.com/assay-dev/assay/verifier/tpm"
	"github.com/google/go-tpm/tpm2"
)

// SNPClaims are the claims of az-snp-vtpm evidence: the SNP report's
// claims, inline, plus what the HCL and the vTPM add.
type SNPClaims struct {
	*sevsnp.Claims
	Azure *AzureClaims `json:"azure"`
	// PCRs are the quoted PCR values ({"sha256": {"0": hex}}); absent when
	// the evidence carries no vTPM quote.
	PCRs map[string]map[string]string `json:"pcrs,omitempty"`
	// EventLog is the replayed event log decoded (secure_boot, boot
	// applications, ...); present only when it replayed to the quote and
	// every other check passed.
	EventLog *tcg.Claims `json:"event_log,omitempty"`
}

// TDXClaims are the claims of az-tdx-vtpm evidence: the TD quote's claims,
// inline, plus what the HCL and the vTPM add.
type TDXClaims struct {
	*tdx.Claims
	Azure    *AzureClaims                 `json:"azure"`
	PCRs     map[string]map[string]string `json:"pcrs,omitempty"`
	EventLog *tcg.Claims                  `json:"event_log,omitempty"`
}

// AzureClaims is what the HCL runtime data says. It is believed only
// because the hardware report's REPORT_DATA commits to it (hcl.binding).
type AzureClaims struct {
	// VMConfiguration is the runtime data's "vm-configuration" with its
	// keys in snake_case (secure_boot, tpm_enabled, console_enabled, ...).
	VMConfiguration map[string]any `json:"vm_configuration"`
	// UserData is "user-data": 64 bytes the guest passed in hex.
	UserData string `json:"user_data"`
	AKPub    AKPub  `json:"ak_pub"`
	// RuntimeDataSHA256 is the hash REPORT_DATA[0:32] carries.
	RuntimeDataSHA256 string `json:"runtime_data_sha256"`
}

// AKPub describes the vTPM attestation key (kid "HCLAkPub").
type AKPub struct {
	KID  string `json:"kid"`
	KTY  string `json:"kty"`
	Bits int    `json:"bits"`
	// SPKISHA256 is the SHA-256 of the key's SubjectPublicKeyInfo DER.
	SPKISHA256 string `json:"spki_sha256"`
	// VouchedBy names the checks that passed and vouch for the AK:
	// "hcl.binding" (the hardware report binds the runtime data naming
	// it) and "vtpm.ak_certificate" (Microsoft's vTPM CA certifies it).
	VouchedBy []string `json:"vouched_by"`
	// Certificate is the AK certificate, when vtpm.ak_certificate passed.
	Certificate *tpm.CertClaims `json:"certificate,omitempty"`
}

func newAzureClaims(h *HCLReport) *AzureClaims {
	sum := sha256.Sum256(h.RuntimeData)
	c := &AzureClaims{UserData: h.Runtime.UserData, RuntimeDataSHA256: hex.EncodeToString(sum[:]), VMConfiguration: map[string]any{}}
	var cfg map[string]any
	if json.Unmarshal(h.Runtime.VMConfiguration, &cfg) == nil {
		for k, v := range cfg {
			c.VMConfiguration[snake(k)] = v
		}
	}
	c.AKPub = AKPub{KID: AKKeyID, KTY: "RSA", Bits: h.Runtime.AK.N.BitLen(), VouchedBy: []string{}}
	if der, err := x509.MarshalPKIXPublicKey(h.Runtime.AK); err == nil {
		s := sha256.Sum256(der)
		c.AKPub.SPKISHA256 = hex.EncodeToString(s[:])
	}
	return c
}

// snake turns "secure-boot" and "vmUniqueId" into "secure_boot" and
// "vm_unique_id".
func snake(k string) string {
	var out []byte
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '-':
			out = append(out, '_')
		case c >= 'A' && c <= 'Z':
			if i > 0 && k[i-1] >= 'a' && k[i-1] <= 'z' {
				out = append(out, '_')
			}
			out = append(out, c+'a'-'A')
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// pcrClaims renders verified PCR values as {"sha256": {"0": hex}}.
func pcrClaims(p tpm.PCRs) map[string]map[string]string {
	if len(p) == 0 {
		return nil
	}
	out := map[string]map[string]string{}
	for bank, m := range p {
		name := "0x" + strconv.FormatUint(uint64(bank), 16)
		switch bank {
		case tpm2.TPMAlgSHA1:
			name = "sha1"
		case tpm2.TPMAlgSHA256:
			name = "sha256"
		case tpm2.TPMAlgSHA384:
			name = "sha384"
		}
		out[name] = map[string]string{}
		for i, v := range m {
			out[name][strconv.Itoa(i)] = hex.EncodeToString(v)
		}
	}
	return out
}
