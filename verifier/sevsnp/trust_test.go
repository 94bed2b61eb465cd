package sevsnp_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"testing"

	"github.com/google/go-sev-guest/verify/trust"

	"github.com/assay-dev/assay/verifier/sevsnp"
)

// SHA-256 fingerprints (of the DER) of the embedded AMD certificates, as
// served by AMD KDS cert_chain endpoints; docs/trust-anchors.md lists them.
var pinned = map[string]string{
	"ARK-Milan":      "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
	"SEV-Milan":      "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b",
	"SEV-VLEK-Milan": "c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5",
	"ARK-Genoa":      "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
	"SEV-Genoa":      "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521",
	"SEV-VLEK-Genoa": "197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372",
	"ARK-Turin":      "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
	"SEV-Turin":      "5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185",
	"SEV-VLEK-Turin": "104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c",
}

func TestEmbeddedFingerprints(t *testing.T) {
	certs := sevsnp.EmbeddedCerts()
	if len(certs) != len(pinned) {
		t.Fatalf("%d embedded certificates, want %d", len(certs), len(pinned))
	}
	seen := map[string]bool{}
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		cn := c.Subject.CommonName
		if want, ok := pinned[cn]; !ok || hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s: SHA-256 %x, pinned %q", cn, sum, want)
		}
		seen[cn] = true
	}
	roots := sevsnp.EmbeddedRoots()
	if len(roots) != 3 {
		t.Fatalf("%d embedded roots, want the three ARKs", len(roots))
	}
	for _, r := range roots {
		if r.Subject.CommonName[:4] != "ARK-" || !r.IsCA {
			t.Errorf("root %s is not an ARK", r.Subject.CommonName)
		}
		if err := r.CheckSignatureFrom(r); err != nil {
			t.Errorf("%s self-signature: %v", r.Subject.CommonName, err)
		}
	}
}

// TestEmbeddedMatchGoSevGuest compares the embedded ARKs, ASKs and ASVKs
// with go-sev-guest's own copies from AMD KDS: an independent second
// source for the same certificates.
func TestEmbeddedMatchGoSevGuest(t *testing.T) {
	ours := map[string][]byte{}
	for _, c := range sevsnp.EmbeddedCerts() {
		ours[c.Subject.CommonName] = c.Raw
	}
	for product, bundle := range map[string][]byte{
		"Milan": trust.AskArkMilanVcekBytes, "Genoa": trust.AskArkGenoaVcekBytes, "Turin": trust.AskArkTurinVcekBytes,
		"VLEK-Milan": trust.AskArkMilanVlekBytes, "VLEK-Genoa": trust.AskArkGenoaVlekBytes, "VLEK-Turin": trust.AskArkTurinVlekBytes,
	} {
		rest, n := bundle, 0
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatalf("%s: %v", product, err)
			}
			n++
			if !bytes.Equal(ours[c.Subject.CommonName], c.Raw) {
				t.Errorf("%s: embedded %s differs from go-sev-guest's", product, c.Subject.CommonName)
			}
		}
		if n != 2 {
			t.Errorf("%s: go-sev-guest bundle has %d certificates", product, n)
		}
	}
}
