package cache

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/verifier/azcvm"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// ErrNeeds wraps every reason Needs or ParseList cannot say what evidence
// needs: evidence that does not parse, a masked CHIP_ID with no VCEK, a
// quote without a PCK chain, a bad list line.
var ErrNeeds = errors.New("cannot tell the collateral needed")

// ErrNoQuote wraps, with ErrNeeds, the error for an Azure TDX VM's raw HCL
// report: its TD quote, which names the platform, travels separately.
var ErrNoQuote = errors.New("no TD quote")

// Need is what the offline appraisal of one piece of evidence (or one
// list line) needs from AMD KDS or Intel PCS.
type Need struct {
	// Options are alternative sets of items, any one of which is enough.
	// There is one, except for a version 2 SEV-SNP report that names its
	// product nowhere: KDS knows a chip only under its own product, so
	// there is one set per product that made such reports (Milan, Genoa),
	// in the order the verifier asks.
	Options [][]Item
	// Notes say what the evidence already carries and is therefore not
	// needed ("the evidence carries its VCEK").
	Notes []string
}

// Needs says what the evidence b needs. kind is the evidence kind the
// verifier registry classified it as ("snp", "tdx", "sgx", "azcvm");
// format its format within the kind ("" to sniff). product is the AMD
// product to assume for an SNP report that does not name one
// (ProductUnknown: find out). Other kinds need nothing from AMD or Intel
// and are an error wrapping ErrNeeds.
func Needs(kind, format string, b []byte, product sevsnp.Product) (Need, error) {
	switch kind {
	case "snp":
		if format == "snp" {
			format = ""
		}
		ev, err := sevsnp.ParseEvidence(b, format)
		if err != nil {
			return Need{}, fmt.Errorf("%w: %w", ErrNeeds, err)
		}
		return snpNeeds(ev.Report, ev.Certificates, product)
	case "tdx", "sgx":
		raw := b
		if _, ok := dcap.Sniff(b); !ok {
			if _, ok := dcap.SniffTrusteeJSON(b); !ok {
				return Need{}, fmt.Errorf("%w: not a DCAP quote or Trustee %s evidence", ErrNeeds, kind)
			}
			ev, err := dcap.ParseTrusteeJSON(b)
			if err != nil {
				return Need{}, fmt.Errorf("%w: %w", ErrNeeds, err)
			}
			raw = ev.Quote
		}
		return quoteNeeds(raw)
	case "azcvm":
		ev, err := azcvm.Parse(b)
		if err != nil {
			return Need{}, fmt.Errorf("%w: %w", ErrNeeds, err)
		}
		if ev.HCL.ReportType == azcvm.ReportTypeTDX {
			if len(ev.TDQuote) == 0 {
				return Need{}, fmt.Errorf("%w: %w: the HCL report of an Azure TDX VM does not carry its TD quote; give the quote file", ErrNeeds, ErrNoQuote)
			}
			return quoteNeeds(ev.TDQuote)
		}
		r, err := sevsnp.Parse(ev.HCL.HWReport)
		if err != nil {
			return Need{}, fmt.Errorf("%w: %w", ErrNeeds, err)
		}
		return snpNeeds(r, ev.VCEK, product)
	}
	return Need{}, fmt.Errorf("%w: %s evidence needs nothing from AMD KDS or Intel PCS", ErrNeeds, kind)
}

// snpNeeds follows sevsnp.Verify: the signing key decides VCEK or VLEK;
// the product comes from CPUID (report version 3 and later), else the
// caller, else a VEK the evidence carries; a VCEK is needed unless the
// evidence carries one for this chip and TCB.
func snpNeeds(r *sevsnp.Report, certs []*x509.Certificate, product sevsnp.Product) (Need, error) {
	var kt sevsnp.KeyType
	switch r.SigningKey() {
	case sevsnp.SigningKeyVCEK:
		kt = sevsnp.KeyVCEK
	case sevsnp.SigningKeyVLEK:
		kt = sevsnp.KeyVLEK
	default:
		return Need{}, fmt.Errorf("%w: SIGNING_KEY is %d: the report is not signed", ErrNeeds, r.SigningKey())
	}
	p := sevsnp.ProductUnknown
	if r.Version >= 3 {
		p = sevsnp.ProductFromCPUID(r.CPUIDFamID, r.CPUIDModID)
	}
	if p == sevsnp.ProductUnknown {
		p = product
	}
	var carried *sevsnp.VEK
	for _, c := range certs {
		vek, err := sevsnp.ParseVEK(c)
		if err != nil || vek.Type != kt || (p != sevsnp.ProductUnknown && vek.Product() != p) {
			continue
		}
		if kt == sevsnp.KeyVCEK && !vcekFor(vek, r) {
			continue
		}
		carried = vek
		break
	}
	if p == sevsnp.ProductUnknown && carried != nil {
		p = carried.Product()
	}
	var need Need
	if carried != nil {
		need.Notes = append(need.Notes, fmt.Sprintf("the evidence carries its %s", strings.ToUpper(kt.String())))
	}
	if kt == sevsnp.KeyVLEK {
		// A VLEK comes from the cloud provider with the report: AMD KDS
		// serves its chain and CRL only.
		if p == sevsnp.ProductUnknown {
			return Need{}, fmt.Errorf("%w: a VLEK-signed version %d report that names no product: give the product", ErrNeeds, r.Version)
		}
		need.Options = [][]Item{{
			KDSItem(kds.Document{Kind: kds.KindCertChain, Product: p, KeyType: kt}),
			KDSItem(kds.Document{Kind: kds.KindCRL, Product: p, KeyType: kt}),
		}}
		if carried == nil {
			need.Notes = append(need.Notes, "the VLEK itself is not public: it must come with the evidence")
		}
		return need, nil
	}
	products := []sevsnp.Product{p}
	if p == sevsnp.ProductUnknown {
		// Only Milan and Genoa made version 2 reports (sevsnp.Verify asks
		// KDS under both, in this order).
		products = []sevsnp.Product{sevsnp.Milan, sevsnp.Genoa}
	}
	for _, p := range products {
		var opt []Item
		if carried == nil {
			if allZero(r.ChipID[:]) {
				return Need{}, fmt.Errorf("%w: CHIP_ID is masked and the evidence carries no VCEK, so AMD KDS cannot be asked for one", ErrNeeds)
			}
			d, err := kds.VCEKDocument(p, r.ChipID[:], r.ReportedTCB)
			if err != nil {
				return Need{}, fmt.Errorf("%w: %w", ErrNeeds, err)
			}
			opt = append(opt, KDSItem(d))
		}
		opt = append(opt,
			KDSItem(kds.Document{Kind: kds.KindCertChain, Product: p, KeyType: kt}),
			KDSItem(kds.Document{Kind: kds.KindCRL, Product: p, KeyType: kt}))
		need.Options = append(need.Options, opt)
	}
	return need, nil
}

// vcekFor reports whether vek is the VCEK of r's chip at r's REPORTED_TCB.
func vcekFor(vek *sevsnp.VEK, r *sevsnp.Report) bool {
	tcb, err := sevsnp.DecodeTCB(vek.Product(), r.ReportedTCB)
	if err != nil || !tcb.Equal(vek.TCB) {
		return false
	}
	if allZero(r.ChipID[:]) {
		return true // masked: only the signature can tell
	}
	n := len(vek.HWID)
	return bytes.Equal(r.ChipID[:n], vek.HWID) && allZero(r.ChipID[n:])
}

// quoteNeeds follows dcap.Verify: the PCK certificate in the quote names
// the FMSPC (TCB info) and its CA (PCK CRL); the QE identity and the root
// CRL are needed by every quote.
func quoteNeeds(raw []byte) (Need, error) {
	q, err := dcap.ParseQuote(raw)
	if err != nil {
		return Need{}, fmt.Errorf("%w: %w", ErrNeeds, err)
	}
	chain, err := q.PCKChain()
	if err != nil {
		return Need{}, fmt.Errorf("%w: %w", ErrNeeds, err)
	}
	ext, err := dcap.ParsePCKExtensions(chain[0])
	if err != nil {
		return Need{}, fmt.Errorf("%w: %w", ErrNeeds, err)
	}
	var ca string
	switch cn := chain[1].Subject.CommonName; cn {
	case "Intel SGX PCK Platform CA":
		ca = "platform"
	case "Intel SGX PCK Processor CA":
		ca = "processor"
	default:
		return Need{}, fmt.Errorf("%w: the PCK is issued by %q, whose CRL Intel PCS does not serve", ErrNeeds, cn)
	}
	tdx := q.IsTDX()
	return Need{Options: [][]Item{{
		PCSItem(pcs.Document{Kind: pcs.KindTCBInfo, TDX: tdx, FMSPC: ext.FMSPC}),
		PCSItem(pcs.Document{Kind: pcs.KindQEIdentity, TDX: tdx}),
		PCSItem(pcs.Document{Kind: pcs.KindPCKCRL, CA: ca}),
		PCSItem(pcs.Document{Kind: pcs.KindRootCRL}),
	}}}, nil
}

// ParseList reads a fleet list: one item set per line, for fleets that
// know their machines by chip ID or FMSPC rather than by evidence.
// Blank lines and lines starting with # are skipped; fields are separated
// by white space:
//
//	snp PRODUCT CHIP_ID_HEX REPORTED_TCB_HEX   VCEK, VCEK cert_chain and CRL
//	snp PRODUCT vlek                           VLEK cert_chain and CRL
//	tdx FMSPC_HEX [platform|processor]         TCB info, TD_QE identity, PCK CRL(s), root CRL
//	sgx FMSPC_HEX [platform|processor]         TCB info, QE identity, PCK CRL(s), root CRL
//
// PRODUCT is Milan, Genoa or Turin, in any case. CHIP_ID is the report's
// 64 bytes (on Turin, its first 8 bytes may be given alone);
// REPORTED_TCB is the 64-bit REPORTED_TCB value (0x optional). Without a
// CA, both PCK CRLs are needed: the FMSPC alone does not name the PCK's
// CA. Every problem is reported, each naming its line.
func ParseList(b []byte) ([]Need, error) {
	var out []Need
	var errs []error
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n, err := parseListLine(strings.Fields(line))
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", i+1, err))
			continue
		}
		out = append(out, n)
	}
	return out, errors.Join(errs...)
}

func parseListLine(f []string) (Need, error) {
	switch strings.ToLower(f[0]) {
	case "snp":
		if len(f) == 3 && strings.EqualFold(f[2], "vlek") {
			p, err := sevsnp.ParseProduct(f[1])
			if err != nil {
				return Need{}, fmt.Errorf("%w: %v", ErrNeeds, err)
			}
			return Need{Options: [][]Item{{
				KDSItem(kds.Document{Kind: kds.KindCertChain, Product: p, KeyType: sevsnp.KeyVLEK}),
				KDSItem(kds.Document{Kind: kds.KindCRL, Product: p, KeyType: sevsnp.KeyVLEK}),
			}}}, nil
		}
		if len(f) != 4 {
			return Need{}, fmt.Errorf("%w: want \"snp PRODUCT CHIP_ID_HEX REPORTED_TCB_HEX\" or \"snp PRODUCT vlek\"", ErrNeeds)
		}
		p, err := sevsnp.ParseProduct(f[1])
		if err != nil {
			return Need{}, fmt.Errorf("%w: %v", ErrNeeds, err)
		}
		chip, err := hex.DecodeString(strings.TrimPrefix(f[2], "0x"))
		if err != nil {
			return Need{}, fmt.Errorf("%w: chip ID is not hex: %v", ErrNeeds, err)
		}
		if len(chip) != 64 && !(p == sevsnp.Turin && len(chip) == 8) {
			return Need{}, fmt.Errorf("%w: chip ID is %d bytes, want 64 (on Turin, 8 will do)", ErrNeeds, len(chip))
		}
		if allZero(chip) {
			return Need{}, fmt.Errorf("%w: chip ID is all zeros (masked)", ErrNeeds)
		}
		tcbHex := strings.TrimPrefix(strings.ToLower(f[3]), "0x")
		tcbBytes, err := hex.DecodeString(tcbHex)
		if err != nil || len(tcbBytes) == 0 || len(tcbBytes) > 8 {
			return Need{}, fmt.Errorf("%w: reported TCB %q is not a 64-bit hex value", ErrNeeds, f[3])
		}
		var tcb uint64
		for _, c := range tcbBytes {
			tcb = tcb<<8 | uint64(c)
		}
		d, err := kds.VCEKDocument(p, chip, tcb)
		if err != nil {
			return Need{}, fmt.Errorf("%w: %w", ErrNeeds, err)
		}
		return Need{Options: [][]Item{{
			KDSItem(d),
			KDSItem(kds.Document{Kind: kds.KindCertChain, Product: p, KeyType: sevsnp.KeyVCEK}),
			KDSItem(kds.Document{Kind: kds.KindCRL, Product: p, KeyType: sevsnp.KeyVCEK}),
		}}}, nil
	case "tdx", "sgx":
		if len(f) != 2 && len(f) != 3 {
			return Need{}, fmt.Errorf("%w: want \"%s FMSPC_HEX [platform|processor]\"", ErrNeeds, f[0])
		}
		fm, err := hex.DecodeString(f[1])
		if err != nil || len(fm) != 6 {
			return Need{}, fmt.Errorf("%w: FMSPC %q is not 6 bytes of hex", ErrNeeds, f[1])
		}
		cas := []string{"platform", "processor"}
		if len(f) == 3 {
			ca := strings.ToLower(f[2])
			if ca != "platform" && ca != "processor" {
				return Need{}, fmt.Errorf("%w: PCK CA %q: want platform or processor", ErrNeeds, f[2])
			}
			cas = []string{ca}
		}
		tdx := strings.EqualFold(f[0], "tdx")
		d := pcs.Document{Kind: pcs.KindTCBInfo, TDX: tdx}
		copy(d.FMSPC[:], fm)
		opt := []Item{PCSItem(d), PCSItem(pcs.Document{Kind: pcs.KindQEIdentity, TDX: tdx})}
		for _, ca := range cas {
			opt = append(opt, PCSItem(pcs.Document{Kind: pcs.KindPCKCRL, CA: ca}))
		}
		opt = append(opt, PCSItem(pcs.Document{Kind: pcs.KindRootCRL}))
		return Need{Options: [][]Item{opt}}, nil
	}
	return Need{}, fmt.Errorf("%w: unknown item type %q (want snp, tdx or sgx)", ErrNeeds, f[0])
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
