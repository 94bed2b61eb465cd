package cli_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"

	"github.com/assay-dev/assay/internal/cli"
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
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
	msg.Headers.Protected[cose.HeaderLabelContentType] = "application/rim+cbor"
	msg.Headers.Protected[int64(8)] = meta
	msg.Payload = unsigned
	s, err := cose.NewSigner(cose.AlgorithmES256, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.Sign(rand.Reader, nil, s); err != nil {
		t.Fatal(err)
	}
	b, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return b
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
