package tpm_test

import (
	"bytes"
	"context"

	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/tpm"
)

// imaFile is one measured file of a generated IMA log.
type imaFile struct {
	path    string
	content string
	signed  bool   // signed with the test IMA key
	badSig  bool   // and the signature then corrupted
	digest  []byte // the file digest; nil is the SHA-256 of content
}

// testBootAggregate is the SHA-256 boot_aggregate of bootPCRs' PCRs 0-7,
// as a kernel records it when PCRs 8-9 are not quoted (computed here
// independently of package tcg).
func testBootAggregate(upTo int, pcrs map[int][]byte) []byte {
	h := sha256.New()
	for i := 0; i <= upTo; i++ {
		h.Write(pcrs[i])
	}
	return h.Sum(nil)
}

// imaLog encodes an ima-sig measurement list as the kernel exports it
// (binary_runtime_measurements: little-endian, SHA-1 template digests),
// the boot_aggregate first, and returns it with PCR 10 as Linux 5.8 and
// later extend it in the SHA-256 bank after each entry, computed here
// independently of package tcg.
func imaLog(t testing.TB, key *ecdsa.PrivateKey, keyID [4]byte, files []imaFile) (raw []byte, pcr10 [][]byte, padded [][]byte) {
	t.Helper()
	return imaLogBoot(t, key, keyID, files, testBootAggregate(7, bootPCRs(nil)))
}

// withPCRs89 adds PCRs 8 and 9 (a kernel command line and image, as
// GRUB measures them) to PCR values.
func withPCRs89(m map[int][]byte) map[int][]byte {
	for _, i := range []int{8, 9} {
		v := sha256.Sum256([]byte{'p', byte(i)})
		m[i] = v[:]
	}
	return m
}

// imaLogBoot is imaLog with the boot_aggregate digest given.
func imaLogBoot(t testing.TB, key *ecdsa.PrivateKey, keyID [4]byte, files []imaFile, boot []byte) (raw []byte, pcr10 [][]byte, padded [][]byte) {
	t.Helper()
	field := func(b []byte) []byte { return append(binary.LittleEndian.AppendUint32(nil, uint32(len(b))), b...) }
	v := make([]byte, 32)
	pv := make([]byte, 32)
	all := append([]imaFile{{path: "boot_aggregate", digest: boot}}, files...)
	for _, f := range all {
		d := sha256.Sum256([]byte(f.content))
		if f.digest != nil {
			d = [32]byte(f.digest)
		}
		var sig []byte
		if f.signed {
			s, err := ecdsa.SignASN1(rand.Reader, key, d[:])
			if err != nil {
				t.Fatal(err)
			}
			sig = (&tcg.IMASignature{Type: 3, Version: 2, HashAlgo: 4, KeyID: keyID, Sig: s}).Marshal()
			if f.badSig {
				sig[len(sig)-1] ^= 1
			}
		}
		data := field(append([]byte("sha256:\x00"), d[:]...))
		data = append(data, field(append([]byte(f.path), 0))...)
		data = append(data, field(sig)...)
		td := sha1.Sum(data)
		raw = binary.LittleEndian.AppendUint32(raw, 10)
		raw = append(raw, td[:]...)
		raw = binary.LittleEndian.AppendUint32(raw, uint32(len("ima-sig")))
		raw = append(raw, "ima-sig"...)
		raw = binary.LittleEndian.AppendUint32(raw, uint32(len(data)))
		raw = append(raw, data...)
		t256 := sha256.Sum256(data)
		n := sha256.Sum256(append(v, t256[:]...))
		v = n[:]
		pcr10 = append(pcr10, v)
		p := make([]byte, 32)
		copy(p, td[:])
		pn := sha256.Sum256(append(pv, p...))
		pv = pn[:]
		padded = append(padded, pv)
	}
	return raw, pcr10, padded
}

type imaKeyPair struct {
	key  *ecdsa.PrivateKey
	pub  tcg.IMAKey
	pem  []byte // PEM PUBLIC KEY
	cert *x509.Certificate
}

func newIMAKey(t testing.TB) imaKeyPair {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := tcg.NewIMAKey(&k.PublicKey, nil, "ima-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "IMA signing key"}, SubjectKeyId: append(make([]byte, 16), pub.ID[:]...),
		NotBefore: ekNow.AddDate(-1, 0, 0), NotAfter: ekNow.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	return imaKeyPair{key: k, pub: pub, pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), cert: issue(t, tmpl, tmpl, &k.PublicKey, k)}
}

func allowList(files ...imaFile) []byte {
	var b strings.Builder
	for _, f := range files {
		d := sha256.Sum256([]byte(f.content))
		fmt.Fprintf(&b, "%x  %s\n", d, f.path)
	}
	return []byte(b.String())
}

var imaFiles = []imaFile{
	{path: "/usr/bin/bash", content: "bash", signed: true},
	{path: "/usr/lib/libc.so.6", content: "libc", signed: true},
	{path: "/opt/app/run.sh", content: "#!/bin/sh"},
	{path: "/usr/bin/python3", content: "python", signed: true},
}

// TestQuoteIMA binds generated IMA logs to a quote through PCR 10 and
// judges them against an allow list and a key.
func TestQuoteIMA(t *testing.T) {
	ak := newSigningAK(t, tpm2.TPMAlgECDSA)
	ik := newIMAKey(t)
	policy, err := tcg.ParseIMAPolicy(allowList(imaFiles[2]))
	if err != nil {
		t.Fatal(err)
	}
	keys := []tcg.IMAKey{ik.pub}
	unlisted := append(append([]imaFile{}, imaFiles...), imaFile{path: "/tmp/evil", content: "evil"})
	badSig := append(append([]imaFile{}, imaFiles...), imaFile{path: "/usr/bin/ls", content: "ls", signed: true, badSig: true})
	type tcase struct {
		name    string
		files   []imaFile
		quoteAt int  // PCR 10 after this many entries (0: all)
		padded  bool // PCR 10 as a kernel before 5.8 extends it
		noPCR10 bool // the quote does not select PCR 10
		tamper  bool // change the log after quoting it
		noLog   bool // give the allow list but no log
		policy  *tcg.IMAPolicy
		keys    []tcg.IMAKey
		bundle  bool   // policy and keys come beside the evidence, not in Options
		opKeys  bool   // and the operator's policy (Options) is set too
		boot    []byte // the boot_aggregate; nil is testBootAggregate(7, bootPCRs(nil))
		with89  bool   // quote PCRs 8 and 9 too
		want    error
		checks  []string
		failed  []string
		bound   int
	}
	all := []string{"ima.replay", "ima.allowlist", "ima.signatures"}
	bound := []string{"ima.replay", "ima.boot_aggregate", "ima.allowlist", "ima.signatures"}
	tests := []tcase{
		{name: "pass", files: imaFiles, policy: policy, keys: keys, checks: bound, bound: 5},
		{name: "later-entries-unjudged", files: unlisted, quoteAt: 5, policy: policy, keys: keys, checks: bound, bound: 5},
		{name: "padded", files: imaFiles, padded: true, policy: policy, keys: keys, checks: bound, bound: 5},
		{name: "log-only", files: unlisted, checks: []string{"ima.replay", "ima.boot_aggregate"}, bound: 6},
		{name: "keys-only-unsigned-fails", files: imaFiles, keys: keys, checks: []string{"ima.replay", "ima.boot_aggregate", "ima.signatures"}, want: tpm.ErrIMA, failed: []string{"ima.signatures"}},
		{name: "not-in-allow-list", files: unlisted, policy: policy, keys: keys, checks: bound, want: tpm.ErrIMA, failed: []string{"ima.allowlist"}},
		{name: "bad-signature", files: badSig, policy: policy, keys: keys, checks: bound, want: tpm.ErrIMA, failed: []string{"ima.allowlist", "ima.signatures"}},
		{name: "pcr10-not-quoted", files: imaFiles, noPCR10: true, policy: policy, keys: keys, checks: all, want: tpm.ErrEventLog, failed: []string{"ima.replay"}},
		{name: "tampered", files: imaFiles, tamper: true, policy: policy, checks: []string{"ima.replay", "ima.allowlist"}, want: tpm.ErrEventLog, failed: []string{"ima.replay"}},
		{name: "no-log", files: imaFiles, noLog: true, policy: policy, checks: []string{"ima.replay", "ima.allowlist"}, want: tpm.ErrCollateralMissing, failed: []string{"ima.replay"}},
		// IMA's boot_aggregate of another boot: the list replays to PCR
		// 10, but it did not start on the boot PCRs 0-7 show.
		{name: "boot-aggregate-other-boot", files: imaFiles, boot: make([]byte, 32), policy: policy, keys: keys, checks: bound, want: tpm.ErrIMA, failed: []string{"ima.boot_aggregate"}},
		// PCRs 0-9 (Linux 5.8 and later, SHA-256) when 8 and 9 are quoted.
		{name: "boot-aggregate-pcrs-0-9", files: imaFiles, boot: testBootAggregate(9, withPCRs89(bootPCRs(nil))), with89: true, policy: policy, keys: keys, checks: bound, bound: 5},
		{name: "bundle-policy-and-keys", files: imaFiles, policy: policy, keys: keys, bundle: true, checks: bound, bound: 5},
		// The operator's allow list set: the attester's key is ignored, so
		// the files it signed are not accepted.
		{name: "operator-policy-ignores-bundle-keys", files: imaFiles, policy: policy, keys: keys, bundle: true, opKeys: true,
			checks: []string{"ima.replay", "ima.boot_aggregate", "ima.allowlist"}, want: tpm.ErrIMA, failed: []string{"ima.allowlist"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			boot := tc.boot
			if boot == nil {
				boot = testBootAggregate(7, bootPCRs(nil))
			}
			raw, pcr10, padded := imaLogBoot(t, ik.key, ik.pub.ID, tc.files, boot)
			at := len(pcr10) - 1
			if tc.quoteAt > 0 {
				at = tc.quoteAt - 1
			}
			v := pcr10[at]
			if tc.padded {
				v = padded[at]
			}
			pcrs := bootPCRs(v)
			if tc.noPCR10 {
				pcrs = bootPCRs(nil)
			}
			if tc.with89 {
				pcrs = withPCRs89(pcrs)
			}
			ev := ak.quote(t, pcrs, nil)
			ev.IMALog = raw
			if tc.tamper {
				ev.IMALog = bytes.Replace(raw, []byte("/opt/app"), []byte("/opt/bad"), 1)
			}
			if tc.noLog {
				ev.IMALog = nil
			}
			o := tpm.Options{Enrolled: []tpm.Enrollment{ak.enrolment(make([]byte, 32))}, IMAPolicy: tc.policy, IMAKeys: tc.keys}
			if tc.bundle {
				ev.IMAPolicy, ev.IMAKeys = tc.policy, tc.keys
				o.IMAPolicy, o.IMAKeys = nil, nil
				if tc.opKeys {
					o.IMAPolicy = tc.policy
				}
			}
			cl, checks, err := tpm.Verify(context.Background(), ev, o)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("err %v, want %v: %v", err, tc.want, failed(checks))
			}
			var imaChecks []string
			for _, c := range checks {
				if strings.HasPrefix(c.Name, "ima.") {
					imaChecks = append(imaChecks, c.Name)
				}
			}
			if !reflect.DeepEqual(imaChecks, tc.checks) {
				t.Errorf("ima checks %v, want %v", imaChecks, tc.checks)
			}
			if got := failedNames(checks); !reflect.DeepEqual(got, tc.failed) {
				t.Errorf("failed %v, want %v: %v", got, tc.failed, failed(checks))
			}
			if err != nil {
				for _, c := range checks {
					if !c.OK {
						t.Logf("%s: %s", c.Name, c.Detail)
					}
				}
				return
			}
			if cl.IMA == nil || cl.IMA.BoundEntries != tc.bound || cl.IMA.Padded != tc.padded || cl.IMA.Bank != "sha256" {
				t.Fatalf("ima claims %+v", cl.IMA)
			}
			a := cl.IMA.Appraisal
			if tc.policy != nil && (a.Allowed != 1 || a.SignedNotListed != 3 || a.NotFiles != 1) {
				t.Errorf("appraisal %+v", a)
			}
			if tc.keys != nil && (a.SignatureValid != 3 || a.Unsigned != 1) {
				t.Errorf("appraisal %+v", a)
			}
		})
	}
}

// TestQuoteIMAFiles is `assay verify quote.msg quote.sig quote.pcrs
// ak.pub ima.log allowlist.txt ima-key.pem`: the files are classified by
// content (package verifier, as the command line does), and the IMA key
// given as a PEM public key, or as a certificate, is told from the AK.
func TestQuoteIMAFiles(t *testing.T) {
	ak := newSigningAK(t, tpm2.TPMAlgRSASSA)
	ik := newIMAKey(t)
	raw, pcr10, _ := imaLog(t, ik.key, ik.pub.ID, imaFiles)
	nonce := []byte{0x90, 0x09}
	ev := ak.quote(t, bootPCRs(pcr10[len(pcr10)-1]), nonce)
	q := ev.Quotes[0]
	pf := &tpm.PCRFile{Selection: q.Info.PCRSelect.PCRSelections, Values: q.PCRs}
	akPub := tpm2.Marshal(tpm2.New2B(*ak.ak.Public))
	vs := verifier.Verifiers(verifier.Config{TPMEnrolled: []tpm.Enrollment{ak.enrolment(make([]byte, 32))}})
	for _, tc := range []struct {
		name string
		key  verifier.Input
	}{
		{"pem-public-key", verifier.Input{Name: "ima-key.pem", Data: ik.pem}},
		{"certificate", verifier.Input{Name: "ima-key.der", Data: ik.cert.Raw}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []verifier.Input{
				{Name: "quote.msg", Data: q.Raw}, {Name: "quote.sig", Data: q.RawSig}, {Name: "quote.pcrs", Data: tpm.MarshalPCRFile(pf)},
				{Name: "ak.pub", Data: akPub}, {Name: "ima.log", Data: raw}, {Name: "allowlist.txt", Data: allowList(imaFiles[2])}, tc.key,
			}
			for _, i := range in[4:] {
				it, err := verifier.Classify(i, vs, "")
				if err != nil || it.Kind != "tpm" && it.Role != verifier.RoleCertificate {
					t.Fatalf("%s classified %+v, %v", i.Name, it.Role, err)
				}
				t.Logf("%s: %s %s", i.Name, it.Role, it.Format)
			}
			res, err := verifier.Appraise(context.Background(), vs, in, "", attest.Params{Nonce: nonce, Now: ekNow})
			if err != nil {
				t.Fatal(err)
			}
			r := res[0]
			if r.Status != attest.StatusAffirming {
				t.Fatalf("status %s: %v", r.Status, failed(r.Checks))
			}
			want := []string{"parse", "ak.trust", "signature", "pcr.digest", "nonce", "eventlog.replay", "ima.replay", "ima.boot_aggregate", "ima.allowlist", "ima.signatures"}
			if got := checkNames(r.Checks); !reflect.DeepEqual(got, want) {
				t.Errorf("checks %v", got)
			}
			cl := r.Claims.(*tpm.Claims)
			if cl.IMA == nil || cl.IMA.Appraisal.SignatureValid != 3 || len(cl.IMA.Keys) != 1 || !strings.HasPrefix(cl.IMA.Keys[0], hex.EncodeToString(ik.pub.ID[:])) {
				t.Errorf("ima claims %+v", cl.IMA)
			}
		})
	}
}
