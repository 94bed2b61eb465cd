package tpm

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// Claims of a TPM quote, named after TPMS_ATTEST and TPMS_QUOTE_INFO in
// snake_case. With several quotes (one per bank, as go-tpm-tools makes
// them) the header fields are the first quote's; pcrs merges every bank.
type Claims struct {
	QualifiedSigner string `json:"qualified_signer"` // qualifiedSigner (TPM2B_NAME)
	ExtraData       string `json:"extra_data"`       // extraData: the nonce
	ClockInfo       Clock  `json:"clock_info"`       // clockInfo
	// FirmwareVersion is firmwareVersion (vendor-specific), as hex: a
	// uint64 does not survive a JSON number.
	FirmwareVersion string `json:"firmware_version"`
	// PCRSelection is pcrSelect, by bank.
	PCRSelection map[string][]int `json:"pcr_selection"`
	// PCRs are the values the pcrDigest covers, by bank and index.
	PCRs map[string]map[string]string `json:"pcrs"`
	AK   *AKClaims                    `json:"ak,omitempty"`
	// EK is the verified EK certificate supplied with the quote, when
	// one was; EK.Bound says whether it is the EK the AK was activated
	// against.
	EK       *EKClaims   `json:"ek,omitempty"`
	EventLog *tcg.Claims `json:"event_log,omitempty"`
	// IMA is the IMA measurement list's binding and appraisal, when one
	// was given.
	IMA *IMAClaims `json:"ima,omitempty"`
	// IDevID is the device identity (IEEE 802.1AR) the IAK certified,
	// when one was given and verified.
	IDevID *IDevIDClaims `json:"idevid,omitempty"`
}

// Clock is TPMS_CLOCK_INFO.
type Clock struct {
	Clock        uint64 `json:"clock"`
	ResetCount   uint32 `json:"reset_count"`
	RestartCount uint32 `json:"restart_count"`
	Safe         bool   `json:"safe"`
}

// AKClaims describe the attestation key.
type AKClaims struct {
	// Algorithm: "rsa-2048", "ecdsa-p256", ...
	Algorithm string `json:"algorithm"`
	// Name is the AK's TPM Name (nameAlg || H(TPMT_PUBLIC)), hex; empty
	// when the AK was given as a bare public key.
	Name string `json:"name,omitempty"`
	// PublicKeySHA256 is the SHA-256 of the DER SubjectPublicKeyInfo.
	PublicKeySHA256 string `json:"public_key_sha256,omitempty"`
	// Certificate is the AK certificate, when one was given.
	Certificate *CertClaims `json:"certificate,omitempty"`
}

// CertClaims identify a certificate.
type CertClaims struct {
	Subject  string `json:"subject"`
	Issuer   string `json:"issuer"`
	Serial   string `json:"serial"`
	NotAfter string `json:"not_after"`
}

// NewClaims builds the claims of parsed evidence. quoted are the PCR
// values the pcrDigest covers (nil: the supplied values, unverified); log
// is the replayed event log, or nil.
func NewClaims(ev *Evidence, quoted PCRs, log *tcg.Log) *Claims {
	if len(ev.Quotes) == 0 {
		return nil
	}
	a := ev.Quotes[0].Attest
	c := &Claims{
		QualifiedSigner: hex.EncodeToString(a.QualifiedSigner.Buffer),
		ExtraData:       hex.EncodeToString(a.ExtraData.Buffer),
		ClockInfo: Clock{
			Clock:        a.ClockInfo.Clock,
			ResetCount:   a.ClockInfo.ResetCount,
			RestartCount: a.ClockInfo.RestartCount,
			Safe:         bool(a.ClockInfo.Safe),
		},
		FirmwareVersion: fmt.Sprintf("%#016x", a.FirmwareVersion),
		PCRSelection:    map[string][]int{},
		PCRs:            map[string]map[string]string{},
	}
	if ev.AK != nil || ev.AKCert != nil {
		ak := akClaims(ev.AK, ev.AKCert)
		c.AK = &ak
	}
	if quoted == nil {
		quoted = PCRs{}
		for _, q := range ev.Quotes {
			for b, m := range q.PCRs {
				if quoted[b] == nil {
					quoted[b] = map[int][]byte{}
				}
				for i, v := range m {
					quoted[b][i] = v
				}
			}
		}
	}
	for _, q := range ev.Quotes {
		for _, s := range q.Info.PCRSelect.PCRSelections {
			c.PCRSelection[bankName(s.Hash)] = append(c.PCRSelection[bankName(s.Hash)], Selected(s)...)
		}
	}
	for b, m := range quoted {
		out := make(map[string]string, len(m))
		for i, v := range m {
			out[strconv.Itoa(i)] = hex.EncodeToString(v)
		}
		c.PCRs[bankName(b)] = out
	}
	if log != nil {
		c.EventLog = log.Claims()
	}
	return c
}

func akClaims(ak *AK, cert *x509.Certificate) AKClaims {
	var c AKClaims
	if ak != nil {
		switch k := ak.Key.(type) {
		case *rsa.PublicKey:
			c.Algorithm = fmt.Sprintf("rsa-%d", k.N.BitLen())
		case *ecdsa.PublicKey:
			c.Algorithm = "ecdsa-" + k.Curve.Params().Name
		}
		if ak.Name != nil {
			c.Name = hex.EncodeToString(ak.Name)
		}
		if s := ak.keySHA256(); s != nil {
			c.PublicKeySHA256 = hex.EncodeToString(s)
		}
	}
	if cert != nil {
		cc := certClaims(cert)
		c.Certificate = &cc
	}
	return c
}
