package sevsnp

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	pb "github.com/google/go-sev-guest/proto/sevsnp"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// Evidence formats this package reads. Each yields a report and whatever
// certificates travel with it.
const (
	// FormatReport is a raw 1184-byte ATTESTATION_REPORT: snpguest's
	// report.bin, go-sev-guest's raw output, configfs-tsm's outblob.
	FormatReport = "snp-report"
	// FormatReportResponse is MSG_REPORT_RSP (SNP ABI Table 25): a 32-byte
	// header (status, report size) followed by the report, as
	// /dev/sev-guest returns it.
	FormatReportResponse = "snp-report-response"
	// FormatTrusteeJSON is Trustee's "snp" evidence: the virtee/sev serde
	// form of the report with an optional certificate chain.
	FormatTrusteeJSON = "trustee-snp-json"
	// FormatAttestationProto is go-sev-guest's Attestation protobuf, in
	// binary or text form, carrying the report and its certificates.
	FormatAttestationProto = "go-sev-guest-attestation"
	// FormatCertTable is the extended report's certificate table
	// (SNP_GET_EXT_REPORT, configfs-tsm auxblob). It is collateral.
	FormatCertTable = "snp-cert-table"
)

// Evidence is a report decoded from one of the formats, with the
// certificates and CRLs its container carried.
type Evidence struct {
	Format       string
	Report       *Report
	Certificates []*x509.Certificate
	CRLs         []*x509.RevocationList
}

const reportResponseHeader = 0x20

// SniffEvidence names the evidence format of b without parsing it fully.
// It does no cryptography.
func SniffEvidence(b []byte) (string, bool) {
	switch {
	case len(b) == ReportSize:
		// The size alone: a report with a damaged header is still an SNP
		// report, and Parse says precisely what is wrong with it.
		return FormatReport, true
	case len(b) == reportResponseHeader+ReportSize &&
		binary.LittleEndian.Uint32(b[4:]) == ReportSize && plausibleReport(b[reportResponseHeader:]):
		return FormatReportResponse, true
	}
	t := bytes.TrimSpace(b)
	if len(t) > 0 && t[0] == '{' && bytes.Contains(t, []byte(`"attestation_report"`)) {
		return FormatTrusteeJSON, true
	}
	if looksLikeAttestationProto(b) {
		return FormatAttestationProto, true
	}
	return "", false
}

func plausibleReport(b []byte) bool {
	v := binary.LittleEndian.Uint32(b[offVersion:])
	return v >= MinVersion && v <= MaxVersion && binary.LittleEndian.Uint32(b[offSignatureAlgo:]) == SigAlgoECDSAP384SHA384
}

// ParseEvidence decodes b in the given format ("" to sniff).
func ParseEvidence(b []byte, format string) (*Evidence, error) {
	if format == "" || format == "snp" {
		f, ok := SniffEvidence(b)
		if !ok {
			return nil, fmt.Errorf("%w: %d bytes are not an SEV-SNP report in any known format (raw report, MSG_REPORT_RSP, Trustee JSON, go-sev-guest Attestation)", ErrMalformed, len(b))
		}
		format = f
	}
	switch format {
	case FormatReport:
		r, err := Parse(b)
		if err != nil {
			return nil, err
		}
		return &Evidence{Format: format, Report: r}, nil
	case FormatReportResponse:
		if len(b) != reportResponseHeader+ReportSize {
			return nil, fmt.Errorf("%w: MSG_REPORT_RSP is %d bytes, want %d", ErrMalformed, len(b), reportResponseHeader+ReportSize)
		}
		if st := binary.LittleEndian.Uint32(b); st != 0 {
			return nil, fmt.Errorf("%w: MSG_REPORT_RSP status is %#x: the firmware returned an error, not a report", ErrMalformed, st)
		}
		if n := binary.LittleEndian.Uint32(b[4:]); n != ReportSize {
			return nil, fmt.Errorf("%w: MSG_REPORT_RSP REPORT_SIZE is %d, want %d", ErrMalformed, n, ReportSize)
		}
		if i := firstNonZero(b[8:reportResponseHeader]); i >= 0 {
			return nil, fmt.Errorf("%w: MSG_REPORT_RSP reserved byte %Xh is not zero", ErrMalformed, 8+i)
		}
		r, err := Parse(b[reportResponseHeader:])
		if err != nil {
			return nil, err
		}
		return &Evidence{Format: format, Report: r}, nil
	case FormatTrusteeJSON:
		return parseTrusteeJSON(b)
	case FormatAttestationProto:
		return parseAttestationProto(b)
	}
	return nil, fmt.Errorf("%w: unknown SEV-SNP evidence format %q", ErrMalformed, format)
}

// CertTableContents parses a certificate table into certificates and CRLs.
func CertTableContents(b []byte) ([]*x509.Certificate, []*x509.RevocationList, error) {
	entries, err := ParseCertTable(b)
	if err != nil {
		return nil, nil, err
	}
	var certs []*x509.Certificate
	var crls []*x509.RevocationList
	for _, e := range entries {
		switch e.Name {
		case "crl":
			crl, err := x509.ParseRevocationList(e.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: certificate table CRL entry: %v", ErrMalformed, err)
			}
			crls = append(crls, crl)
		case "vcek", "vlek", "ask", "ark":
			c, err := x509.ParseCertificate(e.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: certificate table %s entry: %v", ErrMalformed, e.Name, err)
			}
			certs = append(certs, c)
		default:
			// Other GUIDs (go-sev-guest's extra platform info, provider
			// extensions) carry no certificate this appraisal uses.
		}
	}
	return certs, crls, nil
}

// trusteeReport is the virtee/sev serde form of AttestationReport, as
// Trustee's SNP evidence carries it: scalars here, byte arrays in
// trusteeBytes (serde writes Vec<u8> and [u8; N] as arrays of numbers).
type trusteeReport struct {
	Version          uint32     `json:"version"`
	GuestSVN         uint32     `json:"guest_svn"`
	Policy           uint64     `json:"policy"`
	VMPL             uint32     `json:"vmpl"`
	SigAlgo          uint32     `json:"sig_algo"`
	CurrentTCB       trusteeTCB `json:"current_tcb"`
	PlatInfo         uint64     `json:"plat_info"`
	KeyInfo          uint32     `json:"key_info"`
	ReportedTCB      trusteeTCB `json:"reported_tcb"`
	CPUIDFamID       *uint8     `json:"cpuid_fam_id"`
	CPUIDModID       *uint8     `json:"cpuid_mod_id"`
	CPUIDStep        *uint8     `json:"cpuid_step"`
	CommittedTCB     trusteeTCB `json:"committed_tcb"`
	Current          trusteeVer `json:"current"`
	Committed        trusteeVer `json:"committed"`
	LaunchTCB        trusteeTCB `json:"launch_tcb"`
	LaunchMitVector  *uint64    `json:"launch_mit_vector"`
	CurrentMitVector *uint64    `json:"current_mit_vector"`
}

type trusteeBytes struct {
	FamilyID        byteArray `json:"family_id"`
	ImageID         byteArray `json:"image_id"`
	ReportData      byteArray `json:"report_data"`
	Measurement     byteArray `json:"measurement"`
	HostData        byteArray `json:"host_data"`
	IDKeyDigest     byteArray `json:"id_key_digest"`
	AuthorKeyDigest byteArray `json:"author_key_digest"`
	ReportID        byteArray `json:"report_id"`
	ReportIDMA      byteArray `json:"report_id_ma"`
	ChipID          byteArray `json:"chip_id"`
	Signature       struct {
		R byteArray `json:"r"`
		S byteArray `json:"s"`
	} `json:"signature"`
}

type trusteeTCB struct {
	FMC        *uint8 `json:"fmc"`
	Bootloader uint8  `json:"bootloader"`
	TEE        uint8  `json:"tee"`
	SNP        uint8  `json:"snp"`
	Microcode  uint8  `json:"microcode"`
}

type trusteeVer struct {
	Major uint8 `json:"major"`
	Minor uint8 `json:"minor"`
	Build uint8 `json:"build"`
}

// byteArray decodes a JSON array of numbers 0-255 (serde's Vec<u8>), and
// also a base64 string, as encoding/json does for []byte.
type byteArray []byte

func (b *byteArray) UnmarshalJSON(d []byte) error {
	d = bytes.TrimSpace(d)
	if len(d) > 0 && d[0] == '"' {
		var raw []byte
		if err := json.Unmarshal(d, &raw); err != nil {
			return err
		}
		*b = raw
		return nil
	}
	var nums []uint8
	if err := json.Unmarshal(d, &nums); err != nil {
		return fmt.Errorf("want an array of bytes: %v", err)
	}
	*b = nums
	return nil
}

func parseTrusteeJSON(b []byte) (*Evidence, error) {
	var doc struct {
		AttestationReport json.RawMessage `json:"attestation_report"`
		CertChain         []struct {
			CertType json.RawMessage `json:"cert_type"`
			Data     byteArray       `json:"data"`
		} `json:"cert_chain"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: Trustee SNP evidence JSON: %v", ErrMalformed, err)
	}
	if len(doc.AttestationReport) == 0 || string(doc.AttestationReport) == "null" {
		return nil, fmt.Errorf("%w: Trustee SNP evidence JSON has no attestation_report", ErrMalformed)
	}
	r, err := trusteeToReport(doc.AttestationReport)
	if err != nil {
		return nil, err
	}
	ev := &Evidence{Format: FormatTrusteeJSON, Report: r}
	for i, c := range doc.CertChain {
		var kind string
		_ = json.Unmarshal(c.CertType, &kind) // {"OTHER": uuid} stays ""
		if kind == "CRL" {
			crl, err := x509.ParseRevocationList(c.Data)
			if err != nil {
				return nil, fmt.Errorf("%w: cert_chain[%d] (CRL): %v", ErrMalformed, i, err)
			}
			ev.CRLs = append(ev.CRLs, crl)
			continue
		}
		if kind == "" {
			continue
		}
		cert, err := x509.ParseCertificate(c.Data)
		if err != nil {
			return nil, fmt.Errorf("%w: cert_chain[%d] (%s): %v", ErrMalformed, i, kind, err)
		}
		ev.Certificates = append(ev.Certificates, cert)
	}
	return ev, nil
}

func trusteeToReport(raw json.RawMessage) (*Report, error) {
	var t trusteeReport
	var bytesPart trusteeBytes
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("%w: Trustee attestation_report: %v", ErrMalformed, err)
	}
	if err := json.Unmarshal(raw, &bytesPart); err != nil {
		return nil, fmt.Errorf("%w: Trustee attestation_report: %v", ErrMalformed, err)
	}
	r := &Report{
		Version: t.Version, GuestSVN: t.GuestSVN, Policy: t.Policy, VMPL: t.VMPL,
		SignatureAlgo: t.SigAlgo, PlatformInfo: t.PlatInfo, KeyInfo: t.KeyInfo,
		CurrentMajor: t.Current.Major, CurrentMinor: t.Current.Minor, CurrentBuild: t.Current.Build,
		CommittedMajor: t.Committed.Major, CommittedMinor: t.Committed.Minor, CommittedBuild: t.Committed.Build,
	}
	for _, f := range []struct {
		name string
		src  []byte
		dst  []byte
	}{
		{"family_id", bytesPart.FamilyID, r.FamilyID[:]},
		{"image_id", bytesPart.ImageID, r.ImageID[:]},
		{"report_data", bytesPart.ReportData, r.ReportData[:]},
		{"measurement", bytesPart.Measurement, r.Measurement[:]},
		{"host_data", bytesPart.HostData, r.HostData[:]},
		{"id_key_digest", bytesPart.IDKeyDigest, r.IDKeyDigest[:]},
		{"author_key_digest", bytesPart.AuthorKeyDigest, r.AuthorKeyDigest[:]},
		{"report_id", bytesPart.ReportID, r.ReportID[:]},
		{"report_id_ma", bytesPart.ReportIDMA, r.ReportIDMA[:]},
		{"chip_id", bytesPart.ChipID, r.ChipID[:]},
	} {
		if len(f.src) != len(f.dst) {
			return nil, fmt.Errorf("%w: Trustee attestation_report.%s is %d bytes, want %d", ErrMalformed, f.name, len(f.src), len(f.dst))
		}
		copy(f.dst, f.src)
	}
	// The TCB layout follows the product: Turin's has FMC. The serde form
	// names the components, so the layout is chosen by the presence of fmc
	// and, where present, the CPUID family.
	product := Milan // Milan and Genoa share the layout
	if t.CurrentTCB.FMC != nil || (t.CPUIDFamID != nil && ProductFromCPUID(*t.CPUIDFamID, deref(t.CPUIDModID)) == Turin) {
		product = Turin
	}
	for _, f := range []struct {
		name string
		src  trusteeTCB
		dst  *uint64
	}{
		{"current_tcb", t.CurrentTCB, &r.CurrentTCB},
		{"reported_tcb", t.ReportedTCB, &r.ReportedTCB},
		{"committed_tcb", t.CommittedTCB, &r.CommittedTCB},
		{"launch_tcb", t.LaunchTCB, &r.LaunchTCB},
	} {
		v, err := EncodeTCB(product, TCB{Bootloader: f.src.Bootloader, TEE: f.src.TEE, SNP: f.src.SNP, Microcode: f.src.Microcode, FMC: f.src.FMC})
		if err != nil {
			return nil, fmt.Errorf("%w: Trustee attestation_report.%s: %v", ErrMalformed, f.name, err)
		}
		*f.dst = v
	}
	if r.Version >= 3 {
		r.CPUIDFamID, r.CPUIDModID, r.CPUIDStep = deref(t.CPUIDFamID), deref(t.CPUIDModID), deref(t.CPUIDStep)
	}
	if r.Version >= 5 {
		r.LaunchMitVector, r.CurrentMitVec = deref(t.LaunchMitVector), deref(t.CurrentMitVector)
	}
	for _, s := range []struct {
		name string
		src  []byte
		dst  []byte
	}{{"r", bytesPart.Signature.R, r.SignatureR[:]}, {"s", bytesPart.Signature.S, r.SignatureS[:]}} {
		if len(s.src) != sigComponentSize {
			return nil, fmt.Errorf("%w: Trustee attestation_report.signature.%s is %d bytes, want %d", ErrMalformed, s.name, len(s.src), sigComponentSize)
		}
		if i := firstNonZero(s.src[p384Size:]); i >= 0 {
			return nil, fmt.Errorf("%w: Trustee attestation_report.signature.%s has non-zero bytes above 384 bits", ErrMalformed, s.name)
		}
		reverseInto(s.dst, s.src[:p384Size])
	}
	// Round-trip through the ABI encoding so that the report obeys every
	// rule Parse enforces.
	return Parse(r.Marshal())
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// looksLikeAttestationProto reports whether b decodes as a go-sev-guest
// Attestation with a report in it, in binary or text form.
func looksLikeAttestationProto(b []byte) bool {
	a, err := decodeAttestationProto(b)
	return err == nil && a.GetReport() != nil && len(a.GetReport().GetReportData()) == 64
}

func decodeAttestationProto(b []byte) (*pb.Attestation, error) {
	a := &pb.Attestation{}
	t := bytes.TrimSpace(b)
	if len(t) > 0 && (bytes.HasPrefix(t, []byte("report")) || bytes.HasPrefix(t, []byte("#"))) {
		if err := prototext.Unmarshal(b, a); err != nil {
			return nil, err
		}
		return a, nil
	}
	if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(b, a); err != nil {
		return nil, err
	}
	return a, nil
}

func parseAttestationProto(b []byte) (*Evidence, error) {
	a, err := decodeAttestationProto(b)
	if err != nil {
		return nil, fmt.Errorf("%w: go-sev-guest Attestation protobuf: %v", ErrMalformed, err)
	}
	if a.GetReport() == nil {
		return nil, fmt.Errorf("%w: go-sev-guest Attestation has no report", ErrMalformed)
	}
	raw, err := abi.ReportToAbiBytes(a.GetReport())
	if err != nil {
		return nil, fmt.Errorf("%w: go-sev-guest Attestation report: %v", ErrMalformed, err)
	}
	r, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	ev := &Evidence{Format: FormatAttestationProto, Report: r}
	if ch := a.GetCertificateChain(); ch != nil {
		for _, c := range []struct {
			name string
			der  []byte
		}{{"vcek_cert", ch.GetVcekCert()}, {"vlek_cert", ch.GetVlekCert()}, {"ask_cert", ch.GetAskCert()}, {"ark_cert", ch.GetArkCert()}} {
			if len(c.der) == 0 {
				continue
			}
			cert, err := x509.ParseCertificate(c.der)
			if err != nil {
				return nil, fmt.Errorf("%w: go-sev-guest Attestation certificate_chain.%s: %v", ErrMalformed, c.name, err)
			}
			ev.Certificates = append(ev.Certificates, cert)
		}
	}
	return ev, nil
}
