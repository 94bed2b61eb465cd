package tpm

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"

	pb "github.com/google/go-tpm-tools/proto/attest"
	tpmpb "github.com/google/go-tpm-tools/proto/tpm"
	"github.com/google/go-tpm/tpm2"
	"google.golang.org/protobuf/proto"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// Evidence formats.
const (
	// FormatAttestation: go-tpm-tools' attest.Attestation protobuf
	// (proto/attest.proto): AK public, one quote per PCR bank with its PCR
	// values, the TCG event log, the AK certificate and intermediates.
	FormatAttestation = "go-tpm-tools-attestation"
	// FormatQuoteMsg: a bare TPMS_ATTEST, as tpm2_quote -m writes it; the
	// signature, the PCR values and the AK come as collateral.
	FormatQuoteMsg = "tpm2-quote-msg"
)

// Collateral formats.
const (
	FormatSignature = "tpmt-signature"  // tpm2_quote -s (-f tss, the default)
	FormatPCRFile   = "tpm2-tools-pcrs" // tpm2_quote -o (serialized, the default)
	FormatAKPublic  = "tpm2b-public"    // tpm2_createak -u, TPM2B_PUBLIC or TPMT_PUBLIC
	FormatAKPEM     = "pem-public-key"  // tpm2_createak -f pem, or openssl; or an IMA key (evmctl)
	// The TCG firmware event log (binary_bios_measurements): tcg.Sniff's
	// format names, tcg.FormatCryptoAgile and its SHA-1 sibling.
	FormatEventLog = tcg.FormatCryptoAgile
	// FormatIMALog: the IMA measurement list
	// (binary_runtime_measurements), tcg.FormatIMA.
	FormatIMALog = tcg.FormatIMA
	// IMA allow lists: sha256sum-style lines, or a Keylime runtime policy
	// (tcg.FormatIMAAllowList, tcg.FormatKeylimePolicy).
	FormatIMAAllowList  = tcg.FormatIMAAllowList
	FormatKeylimePolicy = tcg.FormatKeylimePolicy
)

// Evidence is a parsed evidence container.
type Evidence struct {
	Format string
	Quotes []*Quote
	// AK is nil when the container does not carry it.
	AK *AK
	// AKCert and Intermediates are what the container carries; nil when
	// nothing.
	AKCert        *x509.Certificate
	Intermediates []*x509.Certificate
	// EventLog is the TCG event log the container carries, as bytes.
	EventLog []byte

	// What Gather found beside the evidence (none of it is in a
	// container):

	// EKCerts are the supplied certificates whose profile is an EK
	// certificate's (IsEKCertificate); nil when none.
	EKCerts []*x509.Certificate
	// EK is an EK public area supplied as TPM2B_PUBLIC (a restricted
	// decryption key, which an AK never is); nil when none.
	EK *EK
	// IDevID is a device identity key, its certificate and the AK's
	// (IAK's) TPM2_Certify of it; nil when none.
	IDevID *IDevID
	// IMALog is an IMA measurement list; nil when none.
	IMALog []byte
	// IMAPolicy is an allow list (sha256sum lines or a Keylime runtime
	// policy); nil when none.
	IMAPolicy *tcg.IMAPolicy
	// IMAKeys are IMA signature verification keys: the supplied
	// certificates and PEM public keys that are neither the AK's nor an
	// EK's, and a Keylime policy's verification keys; nil when none.
	IMAKeys []tcg.IMAKey
}

// maxQuotes bounds the quotes of one container: one per bank.
const maxQuotes = 8

// SniffEvidence recognises TPM evidence by content: a TPMS_ATTEST of a
// quote, or a go-tpm-tools Attestation carrying an AK and quotes. It does
// no crypto.
func SniffEvidence(b []byte) (string, bool) {
	if isEvidenceFile(b) {
		return FormatEvidenceFile, true
	}
	if isGoAttestation(b) {
		return FormatGoAttestation, true
	}
	if isQuoteMsg(b) {
		return FormatQuoteMsg, true
	}
	if _, err := parseAttestationProto(b); err == nil {
		return FormatAttestation, true
	}
	return "", false
}

func isQuoteMsg(b []byte) bool {
	return len(b) >= 6 && binary.BigEndian.Uint32(b) == uint32(tpm2.TPMGeneratedValue) &&
		binary.BigEndian.Uint16(b[4:]) == uint16(tpm2.TPMSTAttestQuote)
}

// SniffCollateral recognises the files tpm2_quote and tpm2_createak write
// beside a quote (TPMT_SIGNATURE, the serialized PCR file, the AK public
// as TPM2B_PUBLIC or PEM), the TCG firmware event log, the IMA
// measurement list, and IMA allow lists (sha256sum lines, Keylime runtime
// policies). A PEM public key may be the AK or an IMA key; Gather tells
// them apart. Certificates are classified before collateral, by the
// caller.
func SniffCollateral(b []byte) (string, bool) {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN PUBLIC KEY-----")) {
		if _, err := ParseAKPublic(b); err == nil {
			return FormatAKPEM, true
		}
		return "", false
	}
	if _, err := ParseSignature(b); err == nil {
		return FormatSignature, true
	}
	if _, err := ParsePCRFile(b); err == nil {
		return FormatPCRFile, true
	}
	// Only a TPM2B_PUBLIC (the size prefix makes it recognisable): a bare
	// TPMT_PUBLIC is read when named, never guessed.
	if len(b) > 4 && int(binary.BigEndian.Uint16(b)) == len(b)-2 {
		if _, err := ParseAKPublic(b); err == nil {
			return FormatAKPublic, true
		}
	}
	// tcg.Sniff looks at the first events only, and takes a few other
	// binary structures (SEV-SNP reports) for a SHA-1 log: the log must
	// parse whole.
	if f, ok := tcg.Sniff(b); ok {
		if _, err := tcg.Parse(b); err == nil {
			return f, true
		}
	}
	if f, ok := tcg.SniffIMA(b); ok {
		return f, true
	}
	if f, ok := tcg.SniffIMAPolicy(b); ok {
		return f, true
	}
	return "", false
}

// ParseEvidence decodes evidence; format, when not empty, forces one.
func ParseEvidence(b []byte, format string) (*Evidence, error) {
	if format == "" || format == "tpm" {
		format, _ = SniffEvidence(b)
	}
	switch format {
	case FormatQuoteMsg:
		q, err := ParseAttest(b)
		if err != nil {
			return nil, err
		}
		return &Evidence{Format: FormatQuoteMsg, Quotes: []*Quote{q}}, nil
	case FormatAttestation:
		return parseAttestation(b)
	case FormatEvidenceFile:
		_, ev, err := ParseEvidenceFile(b)
		return ev, err
	case FormatGoAttestation:
		return parseGoAttestation(b)
	}
	return nil, fmt.Errorf("%w: neither a TPMS_ATTEST quote, a go-tpm-tools Attestation, go-attestation JSON nor an %s file", ErrMalformed, FormatEvidenceFile)
}

func parseAttestationProto(b []byte) (*pb.Attestation, error) {
	var a pb.Attestation
	if err := proto.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%w: go-tpm-tools Attestation: %v", ErrMalformed, err)
	}
	if len(a.GetAkPub()) == 0 || len(a.GetQuotes()) == 0 {
		return nil, fmt.Errorf("%w: go-tpm-tools Attestation without ak_pub or quotes", ErrMalformed)
	}
	for _, q := range a.GetQuotes() {
		if !isQuoteMsg(q.GetQuote()) {
			return nil, fmt.Errorf("%w: go-tpm-tools Attestation quote is not a TPMS_ATTEST of a quote", ErrMalformed)
		}
	}
	return &a, nil
}

func parseAttestation(b []byte) (*Evidence, error) {
	a, err := parseAttestationProto(b)
	if err != nil {
		return nil, err
	}
	if len(a.GetQuotes()) > maxQuotes {
		return nil, fmt.Errorf("%w: go-tpm-tools Attestation has %d quotes, want at most %d", ErrMalformed, len(a.GetQuotes()), maxQuotes)
	}
	ev := &Evidence{Format: FormatAttestation, EventLog: a.GetEventLog()}
	if ev.AK, err = ParseAKPublic(a.GetAkPub()); err != nil {
		return nil, fmt.Errorf("ak_pub: %w", err)
	}
	for i, qp := range a.GetQuotes() {
		q, err := ParseAttest(qp.GetQuote())
		if err != nil {
			return nil, fmt.Errorf("quotes[%d]: %w", i, err)
		}
		if q.Sig, err = ParseSignature(qp.GetRawSig()); err != nil {
			return nil, fmt.Errorf("quotes[%d].raw_sig: %w", i, err)
		}
		q.RawSig = bytes.Clone(qp.GetRawSig())
		if q.PCRs, err = protoPCRs(qp.GetPcrs()); err != nil {
			return nil, fmt.Errorf("quotes[%d].pcrs: %w", i, err)
		}
		ev.Quotes = append(ev.Quotes, q)
	}
	if c := a.GetAkCert(); len(c) > 0 {
		if ev.AKCert, err = x509.ParseCertificate(c); err != nil {
			return nil, fmt.Errorf("%w: ak_cert: %v", ErrMalformed, err)
		}
	}
	for i, c := range a.GetIntermediateCerts() {
		ic, err := x509.ParseCertificate(c)
		if err != nil {
			return nil, fmt.Errorf("%w: intermediate_certs[%d]: %v", ErrMalformed, i, err)
		}
		ev.Intermediates = append(ev.Intermediates, ic)
	}
	return ev, nil
}

func protoPCRs(p *tpmpb.PCRs) (PCRs, error) {
	if p == nil {
		return nil, nil
	}
	alg := tpm2.TPMAlgID(p.GetHash())
	h, err := bankHash(alg)
	if err != nil {
		return nil, err
	}
	out := PCRs{alg: {}}
	for i, v := range p.GetPcrs() {
		if i > 23 || len(v) != h.Size() {
			return nil, fmt.Errorf("%w: %s PCR %d has %d bytes, want index 0-23 and %d bytes", ErrMalformed, bankName(alg), i, len(v), h.Size())
		}
		out[alg][int(i)] = bytes.Clone(v)
	}
	return out, nil
}

// parsePEMCerts reads PEM certificates, or one DER certificate.
func parseCerts(b []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, err
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no certificates")
	}
	return out, nil
}
