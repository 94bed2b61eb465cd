package fakevendor

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/verifier/sevsnp"
)

// Item kinds, as LoadCorpus reports them.
const (
	KindVCEK       = "vcek"        // a VCEK (DER), at its chip's and TCB's URL
	KindCertChain  = "cert_chain"  // an ASK or ASVK and the ARK (PEM)
	KindCRL        = "crl"         // an AMD CRL (DER)
	KindTCBInfo    = "tcb_info"    // an SGX or TDX TCB info (JSON), with its issuer chain header
	KindQEIdentity = "qe_identity" // a QE or TD_QE identity (JSON), with its issuer chain header
	KindPCKCRL     = "pck_crl"     // a PCK Platform or Processor CA CRL (DER), with its issuer chain header
	KindRootCRL    = "root_crl"    // the Intel SGX Root CA CRL (DER), at RootCRLPath
)

// Item is one document LoadCorpus serves.
type Item struct {
	// Path is where it is served, as Put, Count and Path take it.
	Path string
	Kind string
	// File is the corpus file it was read from, relative to the corpus.
	File string
	// Entry is the manifest entry that ships it; "" for roots/amd.
	Entry  string
	Body   []byte
	Header map[string]string
	// ThisUpdate and NextUpdate bound a CRL's validity (thisUpdate,
	// nextUpdate), or a TCB info's or QE identity's (issueDate,
	// nextUpdate); zero for certificates.
	ThisUpdate, NextUpdate time.Time
	// VEK is the parsed VCEK of a KindVCEK item: its product, hardware ID
	// and TCB are what kds.Client.VCEK is called with.
	VEK *sevsnp.VEK
}

// LoadCorpus serves what the shared corpus at corpusDir (from
// testutil.CorpusDir) has of AMD KDS and Intel PCS documents, and returns
// the items it serves, sorted by Path:
//
//   - roots/amd: each product's VCEK and VLEK cert_chain, and its CRLs;
//   - the VCEK of every complete, non-negative SEV-SNP sample (kinds
//     snp-report and az-snp-vtpm), at the URL of its chip ID and TCB;
//   - the TCB infos (version 3, as PCS v4 serves them), QE and TD_QE
//     identities, PCK CRLs and Intel SGX Root CA CRLs that the TDX and SGX
//     samples list as collateral, each with the issuer-chain header PCS
//     sends (the TCB signing chain valid at the document's issueDate, from
//     roots/intel, percent-encoded as PCS encodes it).
//
// When the corpus holds several issues of one document (an FMSPC's TCB
// info fetched in different months), the one with the latest nextUpdate
// is served; Put another to serve it instead.
func (s *Server) LoadCorpus(t testing.TB, corpusDir string) []Item {
	t.Helper()
	l := &loader{t: t, dir: corpusDir, items: map[string]Item{}}
	l.amdRoots()
	m := l.manifest()
	l.intelChains()
	for _, e := range m.Entries {
		if e.Negative {
			continue
		}
		switch {
		case (e.Kind == "snp-report" || e.Kind == "az-snp-vtpm") && e.CollateralStatus == "complete":
			for _, f := range e.Files {
				if f.Kind == "snp-certs" && !f.Negative {
					l.vceks(e.ID, f.Path)
				}
			}
		case strings.HasPrefix(e.Kind, "tdx-") || strings.HasPrefix(e.Kind, "sgx-") || strings.HasPrefix(e.Kind, "az-tdx-"):
			for _, f := range e.Files {
				if f.Kind == "collateral" && !f.Negative {
					l.intel(e.ID, f.Path)
				}
			}
		}
	}
	out := make([]Item, 0, len(l.items))
	for _, it := range l.items {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.Path, b.Path) })
	for _, it := range out {
		s.Put(it.Path, it.Body, it.Header)
	}
	return out
}

// manifest is the part of manifest.json LoadCorpus reads.
type manifest struct {
	Entries []struct {
		ID               string `json:"id"`
		Kind             string `json:"kind"`
		Negative         bool   `json:"negative"`
		CollateralStatus string `json:"collateral_status"`
		Files            []struct {
			Path     string `json:"path"`
			Kind     string `json:"kind"`
			Negative bool   `json:"negative"`
		} `json:"files"`
	} `json:"entries"`
}

type loader struct {
	t     testing.TB
	dir   string
	items map[string]Item // by Path
	// tcbChains are the TCB signing chains (PEM) with their leaf.
	tcbChains []chain
	// pckChains are the PCK CA chains (PEM) by the CA's common name.
	pckChains map[string][]byte
}

type chain struct {
	pem  []byte
	leaf *x509.Certificate
}

func (l *loader) read(rel string) []byte {
	l.t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(rel)))
	if err != nil {
		l.t.Fatalf("fakevendor: %v", err)
	}
	return b
}

func (l *loader) manifest() *manifest {
	l.t.Helper()
	var m manifest
	if err := json.Unmarshal(l.read("manifest.json"), &m); err != nil {
		l.t.Fatalf("fakevendor: manifest.json: %v", err)
	}
	return &m
}

// add keeps it unless an item at its path with a later NextUpdate is
// already kept.
func (l *loader) add(it Item) {
	if old, ok := l.items[it.Path]; ok && !it.NextUpdate.After(old.NextUpdate) {
		return
	}
	l.items[it.Path] = it
}

var amdRootFile = regexp.MustCompile(`^(milan|genoa|turin)_(vcek|vlek)_(ask_ark\.pem|crl\.der)$`)

// amdRoots serves roots/amd: {product}_{vcek,vlek}_ask_ark.pem at
// cert_chain, {product}_{vcek,vlek}_crl.der at crl.
func (l *loader) amdRoots() {
	l.t.Helper()
	ents, err := os.ReadDir(filepath.Join(l.dir, "roots", "amd"))
	if err != nil {
		l.t.Fatalf("fakevendor: %v", err)
	}
	for _, de := range ents {
		m := amdRootFile.FindStringSubmatch(de.Name())
		if m == nil {
			continue
		}
		p, err := sevsnp.ParseProduct(m[1])
		if err != nil {
			l.t.Fatalf("fakevendor: %s: %v", de.Name(), err)
		}
		rel := "roots/amd/" + de.Name()
		b := l.read(rel)
		it := Item{File: rel, Body: b}
		if m[3] == "crl.der" {
			crl, err := x509.ParseRevocationList(b)
			if err != nil {
				l.t.Fatalf("fakevendor: %s: %v", rel, err)
			}
			it.Kind, it.Path = KindCRL, "/"+m[2]+"/v1/"+p.String()+"/crl"
			it.ThisUpdate, it.NextUpdate = crl.ThisUpdate, crl.NextUpdate
		} else {
			it.Kind, it.Path = KindCertChain, "/"+m[2]+"/v1/"+p.String()+"/cert_chain"
		}
		l.add(it)
	}
}

// vceks serves the VCEKs in a file of certificates (DER, or PEM blocks)
// at the URL kds.Client.VCEK requests for the chip and TCB they certify
// (publication 57230 section 4.1).
func (l *loader) vceks(entry, rel string) {
	b := l.read(rel)
	var ders [][]byte
	if blk, _ := pem.Decode(b); blk == nil {
		ders = [][]byte{b}
	} else {
		for rest := b; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type == "CERTIFICATE" {
				ders = append(ders, blk.Bytes)
			}
		}
	}
	for _, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		vek, err := sevsnp.ParseVEK(cert)
		if err != nil || vek.Type != sevsnp.KeyVCEK {
			continue // the ASK and ARK of a bundle
		}
		q := url.Values{}
		q.Set("blSPL", strconv.Itoa(int(vek.TCB.Bootloader)))
		q.Set("teeSPL", strconv.Itoa(int(vek.TCB.TEE)))
		q.Set("snpSPL", strconv.Itoa(int(vek.TCB.SNP)))
		q.Set("ucodeSPL", strconv.Itoa(int(vek.TCB.Microcode)))
		if vek.TCB.FMC != nil {
			q.Set("fmcSPL", strconv.Itoa(int(*vek.TCB.FMC)))
		}
		path := "/vcek/v1/" + vek.Product().String() + "/" + hex.EncodeToString(vek.HWID) + "?" + q.Encode()
		if _, dup := l.items[path]; dup {
			continue // the same VCEK shipped by another sample
		}
		l.add(Item{Path: path, Kind: KindVCEK, File: rel, Entry: entry, Body: der, VEK: vek})
	}
}

// intelChains reads the issuer chains of roots/intel.
func (l *loader) intelChains() {
	l.t.Helper()
	files, err := filepath.Glob(filepath.Join(l.dir, "roots", "intel", "tcb_signing_chain_*.pem"))
	if err != nil {
		l.t.Fatal(err)
	}
	for _, f := range files {
		b := l.read("roots/intel/" + filepath.Base(f))
		blk, _ := pem.Decode(b)
		if blk == nil {
			l.t.Fatalf("fakevendor: %s holds no PEM", f)
		}
		leaf, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			l.t.Fatalf("fakevendor: %s: %v", f, err)
		}
		l.tcbChains = append(l.tcbChains, chain{b, leaf})
	}
	l.pckChains = map[string][]byte{
		"Intel SGX PCK Platform CA":  l.read("roots/intel/pck_platform_ca_chain.pem"),
		"Intel SGX PCK Processor CA": l.read("roots/intel/pck_processor_ca_chain.pem"),
	}
}

// tcbChain is the TCB signing chain whose certificate was valid at t,
// the most recently issued if several were.
func (l *loader) tcbChain(t time.Time) []byte {
	var best *chain
	for i, c := range l.tcbChains {
		if t.Before(c.leaf.NotBefore) || t.After(c.leaf.NotAfter) {
			continue
		}
		if best == nil || c.leaf.NotBefore.After(best.leaf.NotBefore) {
			best = &l.tcbChains[i]
		}
	}
	if best == nil {
		return nil
	}
	return best.pem
}

// Issuer-chain headers (PCS API v4).
const (
	headerTCBInfoChain  = "TCB-Info-Issuer-Chain"
	headerIdentityChain = "SGX-Enclave-Identity-Issuer-Chain"
	headerPCKCRLChain   = "SGX-PCK-CRL-Issuer-Chain"
)

// intel serves one collateral file of a TDX or SGX sample if it is a
// document PCS serves; others (dcap-qvl collateral bundles, TCB info
// version 2, issuer chains) are not.
func (l *loader) intel(entry, rel string) {
	b := l.read(rel)
	if crl, err := x509.ParseRevocationList(b); err == nil && len(crl.Raw) == len(b) {
		it := Item{File: rel, Entry: entry, Body: b, ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate}
		switch cn := crl.Issuer.CommonName; cn {
		case "Intel SGX Root CA":
			it.Kind, it.Path = KindRootCRL, RootCRLPath
		case "Intel SGX PCK Platform CA", "Intel SGX PCK Processor CA":
			ca := "platform"
			if strings.Contains(cn, "Processor") {
				ca = "processor"
			}
			it.Kind, it.Path = KindPCKCRL, "/sgx/certification/v4/pckcrl?ca="+ca+"&encoding=der"
			it.Header = map[string]string{headerPCKCRLChain: EscapeChain(l.pckChains[cn])}
		default:
			return
		}
		l.add(it)
		return
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return
	}
	var doc struct {
		ID         string    `json:"id"`
		FMSPC      string    `json:"fmspc"`
		IssueDate  time.Time `json:"issueDate"`
		NextUpdate time.Time `json:"nextUpdate"`
	}
	it := Item{File: rel, Entry: entry, Body: b}
	var header string
	switch {
	case top["tcbInfo"] != nil:
		if json.Unmarshal(top["tcbInfo"], &doc) != nil || len(doc.FMSPC) != 12 {
			return
		}
		var tee string
		switch doc.ID { // absent in version 2, which PCS v4 does not serve
		case "SGX":
			tee = "sgx"
		case "TDX":
			tee = "tdx"
		default:
			return
		}
		it.Kind, header = KindTCBInfo, headerTCBInfoChain
		it.Path = "/" + tee + "/certification/v4/tcb?fmspc=" + strings.ToUpper(doc.FMSPC)
	case top["enclaveIdentity"] != nil:
		if json.Unmarshal(top["enclaveIdentity"], &doc) != nil {
			return
		}
		switch doc.ID {
		case "QE":
			it.Path = "/sgx/certification/v4/qe/identity"
		case "TD_QE":
			it.Path = "/tdx/certification/v4/qe/identity"
		default:
			return // QVE and others: no PCS path here
		}
		it.Kind, header = KindQEIdentity, headerIdentityChain
	default:
		return
	}
	ch := l.tcbChain(doc.IssueDate)
	if ch == nil {
		return
	}
	it.ThisUpdate, it.NextUpdate = doc.IssueDate, doc.NextUpdate
	it.Header = map[string]string{header: EscapeChain(ch)}
	l.add(it)
}

// EscapeChain percent-encodes a PEM chain as PCS encodes its issuer-chain
// headers: every byte but the RFC 3986 unreserved characters, so '+', '/',
// '=', space and newline all become %XX.
func EscapeChain(pemChain []byte) string {
	var b strings.Builder
	for _, c := range pemChain {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}
