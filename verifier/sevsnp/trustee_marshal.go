package sevsnp

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
)

// CertEntry is one certificate or CRL for MarshalTrusteeJSON, named as
// Trustee's cert_chain names it: "VCEK", "VLEK", "ASK", "ARK" or "CRL".
type CertEntry struct {
	Type string
	DER  []byte
}

// MarshalTrusteeJSON writes r (and a certificate chain) in the JSON form
// of Trustee's SNP evidence: the virtee/sev serde encoding of the report,
// byte arrays as arrays of numbers. An attester that talks to a Trustee
// KBS sends this as primary_evidence; ParseEvidence reads it back to the
// same report bytes.
func MarshalTrusteeJSON(r *Report, chain []CertEntry) ([]byte, error) {
	p := Milan
	if r.Version >= 3 && ProductFromCPUID(r.CPUIDFamID, r.CPUIDModID) == Turin {
		p = Turin
	}
	tcb := func(name string, v uint64) (map[string]any, error) {
		t, err := DecodeTCB(p, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m := map[string]any{"fmc": nil, "bootloader": t.Bootloader, "tee": t.TEE, "snp": t.SNP, "microcode": t.Microcode}
		if t.FMC != nil {
			m["fmc"] = *t.FMC
		}
		return m, nil
	}
	rep := map[string]any{
		"version": r.Version, "guest_svn": r.GuestSVN, "policy": r.Policy,
		"family_id": serdeBytes(r.FamilyID[:]), "image_id": serdeBytes(r.ImageID[:]),
		"vmpl": r.VMPL, "sig_algo": r.SignatureAlgo, "plat_info": r.PlatformInfo, "key_info": r.KeyInfo,
		"report_data": serdeBytes(r.ReportData[:]), "measurement": serdeBytes(r.Measurement[:]),
		"host_data": serdeBytes(r.HostData[:]), "id_key_digest": serdeBytes(r.IDKeyDigest[:]),
		"author_key_digest": serdeBytes(r.AuthorKeyDigest[:]), "report_id": serdeBytes(r.ReportID[:]),
		"report_id_ma": serdeBytes(r.ReportIDMA[:]), "chip_id": serdeBytes(r.ChipID[:]),
		"current":      map[string]uint8{"major": r.CurrentMajor, "minor": r.CurrentMinor, "build": r.CurrentBuild},
		"committed":    map[string]uint8{"major": r.CommittedMajor, "minor": r.CommittedMinor, "build": r.CommittedBuild},
		"signature":    map[string]any{"r": serdeBytes(pad72(r.SignatureR[:])), "s": serdeBytes(pad72(r.SignatureS[:]))},
		"cpuid_fam_id": nil, "cpuid_mod_id": nil, "cpuid_step": nil,
		"launch_mit_vector": nil, "current_mit_vector": nil,
	}
	if r.Version >= 3 {
		rep["cpuid_fam_id"], rep["cpuid_mod_id"], rep["cpuid_step"] = r.CPUIDFamID, r.CPUIDModID, r.CPUIDStep
	}
	if r.Version >= 5 {
		rep["launch_mit_vector"], rep["current_mit_vector"] = r.LaunchMitVector, r.CurrentMitVec
	}
	for name, v := range map[string]uint64{"current_tcb": r.CurrentTCB, "reported_tcb": r.ReportedTCB,
		"committed_tcb": r.CommittedTCB, "launch_tcb": r.LaunchTCB} {
		m, err := tcb(name, v)
		if err != nil {
			return nil, err
		}
		rep[name] = m
	}
	var certs []map[string]any
	for _, c := range chain {
		switch c.Type {
		case "VCEK", "VLEK", "ASK", "ARK":
			if _, err := x509.ParseCertificate(c.DER); err != nil {
				return nil, fmt.Errorf("cert_chain %s: %w", c.Type, err)
			}
		case "CRL":
		default:
			return nil, fmt.Errorf("cert_chain type %q: want VCEK, VLEK, ASK, ARK or CRL", c.Type)
		}
		certs = append(certs, map[string]any{"cert_type": c.Type, "data": serdeBytes(c.DER)})
	}
	doc := map[string]any{"attestation_report": rep, "cert_chain": certs}
	return json.Marshal(doc)
}

// serdeBytes marshals as an array of numbers, as serde writes Vec<u8>.
type serdeBytes []byte

func (b serdeBytes) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 4*len(b)+2)
	out = append(out, '[')
	for i, v := range b {
		if i > 0 {
			out = append(out, ',')
		}
		out = fmt.Appendf(out, "%d", v)
	}
	return append(out, ']'), nil
}

// pad72 turns a big-endian P-384 signature scalar into the report's
// 72-byte little-endian field, as virtee/sev keeps it.
func pad72(be []byte) []byte {
	out := make([]byte, sigComponentSize)
	reverseInto(out[:p384Size], be)
	return out
}
