package tpm_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/assay-dev/assay/verifier/tpm"
)

// SHA-256 fingerprints (of the DER) of the embedded AK CAs;
// docs/trust-anchors.md lists their provenance.
var pinned = map[string]string{
	// Google Compute Engine, legacy EK/AK hierarchy (go-tpm-tools server/ca-certs).
	"tpm_ek_root_1":            "9bd5285f8fb18502a7947e621ffd470266f49fcd3b73e19a190f690ad32a7caf",
	"tpm_ek_intermediate_2":    "5d8dbcf8c8053dd8ffad711b6219355032b7122c34cac0f90ccb49def69ec504",
	"tpm_ek_intermediate_3":    "7132b6ea71101f6c51bb58f98c3798c19b65be510eca0344318900510b593178",
	"EK/AK CA Root":            "594759594b9b61524f6c8ef668f7177f7b9066bc0674f2f49fe9e052be78beb2",
	"EK/AK CA Intermediate":    "84606234dae2d85dc110f94216b388dabc973ebef8bee1edbcd732208c8b3d5d",
	"EK/AK CA Intermediate v3": "c84de8116dfaf5a908f21e810487791f5437e206d00ad8025050cca6bd2ff627",
	// Azure Confidential VM vTPM AK CAs.
	"Azure Virtual TPM Root Certificate Authority 2023": "e6c596b17f8ffefba5c300f714cfb1260c6028704ecf7becc4ab5018efb00e95",
	"Global Virtual TPM CA - 01":                        "a2daccd149cd2eadb82045d3cd24336699a0b2d4e50237a76448d107896cf8c7",
	"Global Virtual TPM CA - 03":                        "fd7c92dabce4dcec9feaa30f8b087ada0598413189182152b881f5564064a29c",
}

func TestEmbeddedFingerprints(t *testing.T) {
	want := map[string]bool{}
	for _, fp := range pinned {
		want[fp] = true
	}
	certs := tpm.EmbeddedCerts()
	if len(certs) != len(pinned) {
		t.Errorf("%d embedded certificates, want %d", len(certs), len(pinned))
	}
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		if !want[hex.EncodeToString(sum[:])] {
			t.Errorf("%s: SHA-256 %x is not pinned", c.Subject, sum)
		}
	}
	roots := tpm.EmbeddedRoots()
	if len(roots) != 3 {
		t.Errorf("%d embedded roots, want 3 (GCE legacy, GCE EK/AK CA Root, Azure 2023)", len(roots))
	}
	for _, r := range roots {
		if !r.IsCA {
			t.Errorf("root %s is not a CA", r.Subject)
		}
	}
}
