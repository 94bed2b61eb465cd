package sevsnp_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// The Trustee encoder is the inverse of the Trustee parser: a real
// Trustee evidence file (the corpus' e2e sample from a Genoa guest) parses,
// re-encodes and parses again to the same report bytes and certificates.
func TestMarshalTrusteeJSONRoundTrip(t *testing.T) {
	path := filepath.Join(testutil.CorpusDir(t), "snp", "trustee", "e2e-evidence.serde.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := sevsnp.ParseEvidence(b, sevsnp.FormatTrusteeJSON)
	if err != nil {
		t.Fatal(err)
	}
	var chain []sevsnp.CertEntry
	for _, c := range ev.Certificates {
		chain = append(chain, sevsnp.CertEntry{Type: "VCEK", DER: c.Raw})
	}
	out, err := sevsnp.MarshalTrusteeJSON(ev.Report, chain)
	if err != nil {
		t.Fatal(err)
	}
	ev2, err := sevsnp.ParseEvidence(out, sevsnp.FormatTrusteeJSON)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.Report.Marshal(), ev2.Report.Marshal()) {
		t.Error("report bytes changed in the round trip")
	}
	if len(ev2.Certificates) != len(ev.Certificates) || !ev2.Certificates[0].Equal(ev.Certificates[0]) {
		t.Error("certificates changed in the round trip")
	}
}

func TestMarshalTrusteeJSONSynthetic(t *testing.T) {
	g := testutil.NewSNPGuest(t)
	raw := g.Report(t, []byte("report data"), nil)
	r, err := sevsnp.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sevsnp.MarshalTrusteeJSON(r, []sevsnp.CertEntry{{Type: "VCEK", DER: g.VEK.Cert.Raw}, {Type: "ASK", DER: g.PKI.ASK.Raw}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := sevsnp.ParseEvidence(out, sevsnp.FormatTrusteeJSON)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.Report.Marshal(); !bytes.Equal(got, raw) {
		t.Errorf("report bytes changed in the round trip, first at offset %#x", firstDiff(got, raw))
	}
	if len(ev.Certificates) != 2 {
		t.Errorf("got %d certificates, want 2", len(ev.Certificates))
	}
	if _, err := sevsnp.MarshalTrusteeJSON(r, []sevsnp.CertEntry{{Type: "PEK", DER: nil}}); err == nil {
		t.Error("an unknown cert_type was accepted")
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}
