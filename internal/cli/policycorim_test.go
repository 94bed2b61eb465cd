package cli_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/assay-dev/assay/internal/cli"
	"github.com/assay-dev/assay/internal/corim/corimtest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/policy"
)

// TestImportCoRIMVeraisonE2E imports Veraison's end-to-end CCA CoRIMs
// from the corpus (platform: implementation ID and four software
// components; realm: RIM, REM0-3, personalization value) and appraises
// Veraison's end-to-end CCA token with the result: every comparison must
// match.
func TestImportCoRIMVeraisonE2E(t *testing.T) {
	dir := filepath.Join(testutil.CorpusDir(t), "cca", "veraison")
	platform := filepath.Join(dir, "e2e-cca-endorsements.cbor")
	realm := filepath.Join(dir, "e2e-cca-realm-endorsements.cbor")

	code, _, stderr := run("policy", "import-corim", platform)
	if code != cli.ExitRejected || !strings.Contains(stderr, "--unsigned") {
		t.Fatalf("unsigned without --unsigned: exit %d, %s", code, stderr)
	}

	out := filepath.Join(t.TempDir(), "refvalues.json")
	code, _, stderr = run("policy", "import-corim", "--unsigned", "--state", "active", "--workload", "e2e", "--author", "ops@example.com", "-o", out, platform, realm)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{"unsigned CoRIM", `platform config "cfg v1.0.0"`, "attest-key triple 0: a CPAK endorsement", "11 reference values"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr does not say %q:\n%s", s, stderr)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rvs, err := policy.ParseRefValues(b)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, rv := range rvs {
		count[rv.Claim]++
		if rv.Workload != "e2e" || rv.State != policy.StateActive || rv.Provenance.Author != "ops@example.com" ||
			!strings.Contains(rv.Provenance.Source, "sha256:") || !strings.Contains(rv.Provenance.Source, "corim-id 0000000000000001cca") {
			t.Errorf("value %+v", rv)
		}
	}
	want := map[string]int{"platform.implementation_id": 1, "platform.sw_components": 4, "realm.initial_measurement": 1,
		"realm.personalization_value": 1, "realm.extensible_measurements.0": 1, "realm.extensible_measurements.1": 1,
		"realm.extensible_measurements.2": 1, "realm.extensible_measurements.3": 1}
	for c, n := range want {
		if count[c] != n {
			t.Errorf("%d values of %s, want %d", count[c], c, n)
		}
	}

	code, stdout, stderr := run("verify", "-o", "json", "--offline", "--at", "2025-06-01T00:00:00Z", "--refvalues", out, "--workload", "e2e",
		filepath.Join(dir, "e2e-cca-evidence.cbor"), platform)
	var res struct {
		Status string `json:"status"`
		Policy struct {
			Reasons []policy.Reason `json:"reasons"`
		} `json:"policy"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if code != cli.ExitAffirming || res.Status != "affirming" || len(res.Policy.Reasons) != 11 {
		t.Fatalf("exit %d status %s, %d reasons: %+v", code, res.Status, len(res.Policy.Reasons), res.Policy.Reasons)
	}
	for _, r := range res.Policy.Reasons {
		if r.Status.String() != "affirming" {
			t.Errorf("%s: %s", r.Rule, r.Message)
		}
	}
}

// signCoRIM signs an unsigned CoRIM (its tag 501 kept) as
// draft-ietf-rats-corim describes: ES256, content type
// application/rim+cbor, corim-meta naming the signer.
func signCoRIM(t *testing.T, unsigned []byte, k *ecdsa.PrivateKey, signer string) []byte {
	t.Helper()
	meta, err := cbor.Marshal(map[int]any{0: map[int]any{0: signer}})
	if err != nil {
		t.Fatal(err)
	}
	return corimtest.SignES256(t, unsigned, k, map[any]any{int64(8): meta})
}

func writePub(t *testing.T, path string, k *ecdsa.PublicKey) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestImportSignedCoRIM: Veraison's realm CoRIM signed in the test with a
// test key; imported with that key, refused with another, without one,
// and with any byte of its signature or payload flipped. Also the signed
// seed of verifier/cca (veraison/corim's form, payload without tag 501).
func TestImportSignedCoRIM(t *testing.T) {
	root := testutil.RepoRoot(t)
	unsigned, err := os.ReadFile(filepath.Join(root, "internal", "corim", "testdata", "veraison-e2e-cca-realm-endorsements.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signed := signCoRIM(t, unsigned, key, "Realm Vendor Ltd.")
	file := filepath.Join(tmp, "realm.signed.cbor")
	if err := os.WriteFile(file, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, otherPub := filepath.Join(tmp, "signer.pub"), filepath.Join(tmp, "other.pub")
	writePub(t, pub, &key.PublicKey)
	writePub(t, otherPub, &other.PublicKey)

	code, stdout, stderr := run("policy", "import-corim", "--key", pub, file)
	if code != 0 || !strings.Contains(stderr, `signed CoRIM, signer "Realm Vendor Ltd." (ES256), signature verified`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rvs, err := policy.ParseRefValues([]byte(stdout))
	if err != nil || len(rvs) != 6 {
		t.Fatalf("%d values: %v", len(rvs), err)
	}
	if rvs[0].Provenance.Author != "Realm Vendor Ltd." || !strings.Contains(rvs[0].Provenance.Source, `signed by "Realm Vendor Ltd."`) || rvs[0].State != policy.StateStaged {
		t.Errorf("provenance %+v state %s", rvs[0].Provenance, rvs[0].State)
	}

	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"no-key", []string{file}, "no --key"},
		{"other-key", []string{"--key", otherPub, file}, "verifies with none"},
	} {
		code, _, stderr := run(append([]string{"policy", "import-corim"}, tc.args...)...)
		if code != cli.ExitRejected || !strings.Contains(stderr, tc.says) {
			t.Errorf("%s: exit %d, %s", tc.name, code, stderr)
		}
	}
	// One flipped byte anywhere: in the signature (the last bytes), in the
	// payload, in the protected header. Every one is refused.
	for _, at := range []int{len(signed) - 1, len(signed) - 40, len(signed) / 2, 12} {
		f := bytes.Clone(signed)
		f[at] ^= 0x01
		flipped := filepath.Join(tmp, "flipped.cbor")
		if err := os.WriteFile(flipped, f, 0o600); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := run("policy", "import-corim", "--key", pub, "--unsigned", flipped)
		if code != cli.ExitRejected || stdout != "" {
			t.Errorf("byte %d flipped: exit %d, %s", at, code, stderr)
		}
	}

	seed := filepath.Join(root, "verifier", "cca", "testdata", "signed-veraison-e2e-cca-endorsements.cbor")
	seedKey := filepath.Join(root, "verifier", "cca", "testdata", "signed-corim-test-signer.pub")
	code, _, stderr = run("policy", "import-corim", "--key", seedKey, seed)
	if code != 0 || !strings.Contains(stderr, `signer "ACME Inc."`) || !strings.Contains(stderr, "5 reference values") {
		t.Errorf("signed seed: exit %d, %s", code, stderr)
	}
}

func TestImportCoRIMUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--state", "revoked", "x.cbor"},
		{"--key", "/nonexistent.pem", "x.cbor"},
		{"/nonexistent.cbor"},
	} {
		if code, _, stderr := run(append([]string{"policy", "import-corim"}, args...)...); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, cli.ExitUsage, stderr)
		}
	}
	// Not a CoRIM at all.
	f := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(f, []byte(`{"reference_values": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run("policy", "import-corim", "--unsigned", f); code != cli.ExitRejected || !strings.Contains(stderr, "neither an unsigned CoRIM") {
		t.Errorf("json: exit %d: %s", code, stderr)
	}
}

// corimFile writes b, a CoRIM corimtest built (its builders name the
// published sample whose content each has), to a file named name in a
// temporary directory.
func corimFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// importValues runs import-corim, wants exit 0, and returns the values by
// "tee claim", and standard error.
func importValues(t *testing.T, args ...string) (map[string][]policy.RefValue, []policy.RefValue, string) {
	t.Helper()
	code, stdout, stderr := run(append([]string{"policy", "import-corim"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rvs, err := policy.ParseRefValues([]byte(stdout))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]policy.RefValue{}
	for _, rv := range rvs {
		by[rv.TEE+" "+rv.Claim] = append(by[rv.TEE+" "+rv.Claim], rv)
	}
	return by, rvs, stderr
}

func wantSays(t *testing.T, stderr string, says ...string) {
	t.Helper()
	for _, s := range says {
		if !strings.Contains(stderr, s) {
			t.Errorf("standard error does not say %q:\n%s", s, stderr)
		}
	}
}

// TestImportCoRIMSEVSNP imports Veraison's SEV-SNP CoRIM (profile
// tag:amd.com,2024:snp-corim-profile): MEASUREMENT, FAMILY_ID, IMAGE_ID
// and CHIP_ID map; the TCB versions, the per-report fields and the
// 48-byte "by chip" instance (not a CHIP_ID) are listed as not imported.
// Signed in the test with a test key, it imports with its signer as the
// author.
func TestImportCoRIMSEVSNP(t *testing.T) {
	file := corimFile(t, "veraison-sevsnp-refval.cbor", corimtest.SEVSNP(t))
	by, rvs, stderr := importValues(t, "--unsigned", file)
	if len(rvs) != 4 {
		t.Errorf("%d values, want 4", len(rvs))
	}
	for claim, want := range map[string]string{
		"snp measurement": "7699e6ac12ccdfd1dfac70e649ce1f046cb2afbb003438f4cdddfe2ccbe182fa5ffbe8dcdb930454324e10c52c788980",
		"snp family_id":   "00000000000000000000000000000000",
		"snp image_id":    "00000000000000000000000000000000",
		"snp chip_id":     "c2a6528b7364e07e9f5c653ab3aa0dbd7384f9a80dfde54cc643ddbb89d8936425ff8a32568ca6ed771020dc39c33ccffb3b43cac0c501a0093cad6012dfd3ed",
	} {
		if len(by[claim]) != 1 || by[claim][0].Value != want {
			t.Errorf("%s: %+v, want %s", claim, by[claim], want)
		}
	}
	m := by["snp measurement"][0]
	if m.ID != "corim:00000000-0000-0000-5596-0000000000001/f659d51036984b529dc639a0dd620998/0/m9/measurement/0" ||
		!strings.Contains(m.Provenance.Source, "CoMID f659d51036984b529dc639a0dd620998, reference triple 0") || !strings.Contains(m.Provenance.Source, "unsigned") {
		t.Errorf("measurement %+v", m)
	}
	wantSays(t, stderr, "mkey 647 (REPORTED_TCB): a TCB_VERSION", "mkey 640 (REPORT_DATA): differs per report",
		"by-chip instance of CBOR tag 560, 48 bytes", "attest-key triple 0: a key endorsement", "4 reference values, 16 triples or values not imported")

	unsigned, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signed := filepath.Join(tmp, "snp.signed.cbor")
	if err := os.WriteFile(signed, signCoRIM(t, unsigned, key, "AMD test signer"), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(tmp, "signer.pub")
	writePub(t, pub, &key.PublicKey)
	by, _, _ = importValues(t, "--key", pub, signed)
	if m := by["snp measurement"]; len(m) != 1 || m[0].Provenance.Author != "AMD test signer" || !strings.Contains(m[0].Provenance.Source, `signed by "AMD test signer"`) {
		t.Errorf("signed: %+v", m)
	}
}

// TestImportCoRIMTPM imports Veraison's Parsec TPM CoRIM (PCRs 0-2 by
// uint mkey, SHA-256 and SHA-384 each) as PCR values of the two banks;
// Veraison's EnactTrust CoRIM states a digest of a PCR selection, which
// maps onto no PCR and is refused with the reason.
func TestImportCoRIMTPM(t *testing.T) {
	by, rvs, stderr := importValues(t, "--unsigned", "--workload", "edge", corimFile(t, "veraison-parsec-tpm-refval.cbor", corimtest.ParsecTPM(t)))
	if len(rvs) != 6 {
		t.Errorf("%d values, want 6", len(rvs))
	}
	for pcr, sha384 := range []string{
		"4284b5694ca6c0d2cf4789a0b95ac8025c818de52304364be7cd2981b2d2edc685b322277ec25819962413d8c9b2c1f5",
		"4284b5694ca6c0d2cf4789a0b95ac8025c818de52304364be7cd2981b2d2edc685b322277ec25819962413d8c9b2c1f5",
		"2107bbe761fca52d95136a1354db7a4dd57b1b26be0d3da71d9eb23986b34ba615abf6514cf35e5a9ea55a032d068a78",
	} {
		if v := by[fmt.Sprintf("tpm pcrs.sha384.%d", pcr)]; len(v) != 1 || v[0].Value != sha384 || v[0].Workload != "edge" {
			t.Errorf("PCR %d SHA-384: %+v", pcr, v)
		}
		if v := by[fmt.Sprintf("tpm pcrs.sha256.%d", pcr)]; len(v) != 1 || v[0].Value != strings.Repeat("00", 32) {
			t.Errorf("PCR %d SHA-256: %+v", pcr, v)
		}
	}
	wantSays(t, stderr, "names the platforms the PCR values are for")

	code, _, stderr := run("policy", "import-corim", "--unsigned", corimFile(t, "veraison-enacttrust-refval.cbor", corimtest.EnactTrust(t)))
	if code != cli.ExitRejected {
		t.Errorf("EnactTrust: exit %d, want %d", code, cli.ExitRejected)
	}
	wantSays(t, stderr, "EnactTrust TPM: the digest of a quoted PCR selection", "no triple maps")
}

// wrapIntelCoMID puts a CoMID (untagged map bytes, as veraison/corim's
// Intel profile test cases are, and corimtest builds them) into an unsigned CoRIM of the Intel
// profile, written to dir.
func wrapIntelCoMID(t *testing.T, dir, name string, comid []byte) string {
	t.Helper()
	b, err := cbor.Marshal(cbor.Tag{Number: 501, Content: map[int]any{
		0: name,
		1: []any{cbor.Tag{Number: 506, Content: cbor.RawMessage(comid)}},
		3: cbor.Tag{Number: 111, Content: corimtest.IntelProfileOID},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".cbor")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportCoRIMIntel imports the Intel profile's published CoMIDs (as
// corimtest re-encodes their content): the SGX ISV enclave example of
// the profile draft maps to mr_signer, isv_prod_id and a minimum
// isv_svn; veraison/corim's TDX SEAM CoMID
// states SHA-256 and SHA-512 digests, which no TDX register is, so
// nothing of it maps, and says so; its QE and PCE CoMIDs are collateral's
// business.
func TestImportCoRIMIntel(t *testing.T) {
	tmp := t.TempDir()
	var files []string
	for _, c := range []struct {
		name  string
		comid []byte
	}{
		{"intel-profile-isve-ref", corimtest.IntelISVE(t)},
		{"veraison-tdx-seam-refval", corimtest.TDXSEAM(t)},
		{"veraison-tdx-qe-refval", corimtest.TDXQE(t)},
		{"veraison-tdx-pce-refval", corimtest.TDXPCE(t)},
	} {
		files = append(files, wrapIntelCoMID(t, tmp, c.name, c.comid))
	}
	by, rvs, stderr := importValues(t, append([]string{"--unsigned"}, files...)...)
	if len(rvs) != 3 {
		t.Errorf("%d values, want 3: %+v", len(rvs), rvs)
	}
	for claim, want := range map[string]string{
		"sgx mr_signer":   "a314fc2dc663ae7a6b6bc6787594057396e6b3f569cd50fd5ddb4d1bbafd2b6a",
		"sgx isv_prod_id": "1",
		"sgx isv_svn":     "6",
	} {
		if len(by[claim]) != 1 || by[claim][0].Value != want {
			t.Errorf("%s: %+v, want %s", claim, by[claim], want)
		}
	}
	wantSays(t, stderr,
		"tee.mrsigner: a sha-512 digest; sgx mr_signer is sha-256",
		"-88 (tee.tcbstatus)", "-81 (tee.miscselect)",
		"tee.mrtee: a sha-256 digest; tdx mr_seam is sha-384",
		"tee.isvsvn (operator 2, 6) of a tdx environment",
		"Intel environment 2.16.840.1.113741.1.2.3.4.1 (SGX QE TCB): a quoting or provisioning enclave",
		"Intel environment 2.16.840.1.113741.1.2.3.4.5 (TDX PCE TCB)",
		"1 triples of triples-map key 1")

	code, _, stderr := run("policy", "import-corim", "--unsigned", files[1])
	if code != cli.ExitRejected || !strings.Contains(stderr, "no triple maps") {
		t.Errorf("SEAM alone: exit %d, %s", code, stderr)
	}
}

// tdCoRIM builds a CoRIM of the Intel profile for a TD (SYNTHETIC: no
// published TD reference values exist; the profile names no TD
// environment, and Assay reads the class model "TDX TD" as one): MRTD as
// tee.mrtee, RTMRs as integrity registers 0-3.
func tdCoRIM(t *testing.T, mrtd [][]byte, rtmr map[any][]byte) []byte {
	t.Helper()
	set := []any{}
	for _, d := range mrtd {
		set = append(set, []any{7, d})
	}
	regs := map[any]any{}
	for k, v := range rtmr {
		regs[k] = []any{[]any{7, v}}
	}
	comid := map[int]any{
		1: map[int]any{0: "td-1"},
		4: map[int]any{0: []any{[]any{
			map[int]any{0: map[int]any{1: "Intel Corporation", 2: "TDX TD"}},
			[]any{map[int]any{1: map[int]any{-83: cbor.Tag{Number: 60020, Content: []any{6, set}}, 14: regs}}},
		}}},
	}
	b, err := cbor.Marshal(comid)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImportCoRIMTDXTD(t *testing.T) {
	tmp := t.TempDir()
	mrtd := bytes.Repeat([]byte{0x11}, 48)
	mrtd2 := append(bytes.Repeat([]byte{0x22}, 47), 0x23)
	rtmr := map[any][]byte{uint64(0): bytes.Repeat([]byte{0xa0}, 48), "rtmr1": bytes.Repeat([]byte{0xa1}, 48), uint64(2): bytes.Repeat([]byte{0xa2}, 48), "rtmr7": bytes.Repeat([]byte{0xa7}, 48)}
	file := wrapIntelCoMID(t, tmp, "td", tdCoRIM(t, [][]byte{mrtd, mrtd2}, rtmr))
	by, rvs, stderr := importValues(t, "--unsigned", file)
	if len(rvs) != 5 || len(by["tdx mr_td"]) != 2 || by["tdx rtmr.1"][0].Value != strings.Repeat("a1", 48) || len(by["tdx rtmr.2"]) != 1 {
		t.Errorf("%+v", by)
	}
	wantSays(t, stderr, `integrity register "rtmr7": a TD has RTMRs 0-3`)

	// An MRTD listed both ways round (one copied from a tool that prints
	// it reversed) is refused by validation.
	rev := slices.Clone(mrtd2)
	slices.Reverse(rev)
	file = wrapIntelCoMID(t, tmp, "td-reversed", tdCoRIM(t, [][]byte{mrtd2, rev}, nil))
	code, _, stderr := run("policy", "import-corim", "--unsigned", file)
	if code != cli.ExitRejected || !strings.Contains(stderr, "do not validate") || !strings.Contains(stderr, "revers") {
		t.Errorf("reversed MRTD: exit %d, %s", code, stderr)
	}
}
