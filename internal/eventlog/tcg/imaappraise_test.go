package tcg_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// keylimeKey is keylime's test key rsa2048pub.pem, which signed /usr/bin/dd
// in testdata/keylime-ima.bin (see testdata/README.md).
func keylimeKey(t testing.TB) []tcg.IMAKey {
	t.Helper()
	b, err := os.ReadFile("testdata/keylime-ima-rsa2048pub.pem")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tcg.ParseIMAKeys(b, "keylime-ima-rsa2048pub.pem")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func keylimeLog(t testing.TB) *tcg.IMALog {
	t.Helper()
	b, err := os.ReadFile("testdata/keylime-ima.bin")
	if err != nil {
		t.Fatal(err)
	}
	l, err := tcg.ParseIMA(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sigField returns the sig field of entry i.
func sigField(t testing.TB, l *tcg.IMALog, i int) []byte {
	t.Helper()
	f := l.Entries[i].Fields
	if len(f) != 3 {
		t.Fatalf("entry %d has %d fields", i, len(f))
	}
	return f[2]
}

// TestIMAKeylimeSignatures verifies the real RSA signature of keylime's
// /usr/bin/dd entry with keylime's key (key ID f3452d23, as keylime's
// keyring lists it: 4081397027), and refuses it changed or with another
// key. /usr/bin/zmore is signed with a secp256k1 key, which Go's
// crypto/x509 does not parse: no key has its ID.
func TestIMAKeylimeSignatures(t *testing.T) {
	l := keylimeLog(t)
	keys := keylimeKey(t)
	if len(keys) != 1 || keys[0].IDString() != "f3452d23" {
		t.Fatalf("keys %+v, want one of ID f3452d23", keys)
	}
	dd := l.Entries[3]
	s, err := tcg.ParseIMASignature(sigField(t, l, 3))
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != 3 || s.Version != 2 || s.HashAlgo != 4 || s.KeyIDString() != "f3452d23" || len(s.Sig) != 256 {
		t.Fatalf("header %+v", s)
	}
	if !bytes.Equal(s.Marshal(), sigField(t, l, 3)) {
		t.Error("Marshal does not give back the sig field")
	}
	digest := dd.Fields[0][len("sha256:\x00"):]
	if err := s.Verify(keys, crypto.SHA256, digest); err != nil {
		t.Fatalf("dd: %v", err)
	}
	bad := bytes.Clone(digest)
	bad[0] ^= 1
	if err := s.Verify(keys, crypto.SHA256, bad); !errors.Is(err, tcg.ErrSignature) {
		t.Errorf("changed digest: %v", err)
	}
	if err := s.Verify(keys, crypto.SHA1, digest[:20]); !errors.Is(err, tcg.ErrSignature) {
		t.Errorf("other hash: %v", err)
	}
	for i := range s.Sig {
		c := *s
		c.Sig = bytes.Clone(s.Sig)
		c.Sig[i] ^= 0x80
		if err := c.Verify(keys, crypto.SHA256, digest); !errors.Is(err, tcg.ErrSignature) {
			t.Fatalf("signature byte %d flipped: %v", i, err)
		}
	}
	zs, err := tcg.ParseIMASignature(sigField(t, l, 4))
	if err != nil {
		t.Fatal(err)
	}
	if zs.KeyIDString() != "531f4025" {
		t.Errorf("zmore key ID %s", zs.KeyIDString())
	}
	if err := zs.Verify(keys, crypto.SHA256, l.Entries[4].Fields[0][8:]); !errors.Is(err, tcg.ErrSignature) || !strings.Contains(err.Error(), "no given key has ID 531f4025") {
		t.Errorf("zmore: %v", err)
	}
	if ids := l.SignatureKeyIDs(); len(ids) != 2 || hex.EncodeToString(ids[0][:]) != "f3452d23" || hex.EncodeToString(ids[1][:]) != "531f4025" {
		t.Errorf("SignatureKeyIDs %x", ids)
	}
}

func TestParseIMASignatureMalformed(t *testing.T) {
	good := []byte{3, 2, 4, 0xf3, 0x45, 0x2d, 0x23, 0, 2, 0xaa, 0xbb}
	if _, err := tcg.ParseIMASignature(good); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":        nil,
		"short-header": good[:8],
		"digest-xattr": append([]byte{4}, good[1:]...),
		"version-1":    append([]byte{3, 1}, good[2:]...),
		"size-long":    good[:10],
		"size-short":   append(bytes.Clone(good), 0xcc),
	} {
		if _, err := tcg.ParseIMASignature(b); !errors.Is(err, tcg.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestIMAKeyIDs: a certificate is named by its SubjectKeyIdentifier, a
// bare key by the SHA-1 of its subjectPublicKey bits.
func TestIMAKeyIDs(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	skid := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xde, 0xad, 0xbe, 0xef}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ima key"}, SubjectKeyId: skid,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tcg.ParseIMAKeys(der, "ima.der")
	if err != nil || len(keys) != 1 || keys[0].IDString() != "deadbeef" {
		t.Fatalf("certificate key: %+v %v", keys, err)
	}
	bare, err := tcg.NewIMAKey(&k.PublicKey, nil, "bare")
	if err != nil {
		t.Fatal(err)
	}
	ecdh, _ := k.PublicKey.ECDH()
	sum := sha1Sum(ecdh.Bytes())
	if bare.IDString() != hex.EncodeToString(sum[16:]) {
		t.Errorf("bare key ID %s, want %x", bare.IDString(), sum[16:])
	}
	if _, err := tcg.ParseIMAKeys([]byte("-----BEGIN X-----\nAAAA\n-----END X-----\n"), "x"); !errors.Is(err, tcg.ErrMalformed) {
		t.Errorf("no key block: %v", err)
	}
}

func TestParseIMAPolicyAllowList(t *testing.T) {
	b, err := os.ReadFile("testdata/ima-allowlist.txt")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := tcg.SniffIMAPolicy(b); !ok || f != tcg.FormatIMAAllowList {
		t.Fatalf("SniffIMAPolicy = %q %v", f, ok)
	}
	p, err := tcg.ParseIMAPolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"/lib/modules/5.4.48-openpower1/kernel/drivers/usb/common/usb-common.ko":                {"f1125b940480d20ad841d26d5ea253edc0704b5ec1548c891edf212cb1a9365e"},
		"kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko":                                {"cd026b58efdf66658685430ff526490d54a430a3f0066a35ac26a8acab66c55d"},
		"/lib/modules/5.4.48-openpower1/kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko": {"cd026b58efdf66658685430ff526490d54a430a3f0066a35ac26a8acab66c55d"},
		"/usr/bin/dd":                  {"d33d5d13792292e202dbf69a6f1b07bc8a02f01424db8489ba7bb7d43c0290ef"},
		"/tmp/odd\nname\\with escapes": {strings.Repeat("0", 64)},
	}
	if !reflect.DeepEqual(p.Digests, want) {
		t.Errorf("digests %q", p.Digests)
	}
	p2, err := tcg.ParseIMAPolicy(p.Marshal())
	if err != nil || !reflect.DeepEqual(p2.Digests, p.Digests) {
		t.Errorf("round trip: %v %+v", err, p2)
	}
	for name, in := range map[string]string{
		"empty":       "",
		"comment":     "# nothing\n",
		"short-hex":   "abcd  /x\n",
		"not-hex":     strings.Repeat("g", 64) + "  /x\n",
		"no-path":     strings.Repeat("a", 64) + "\n",
		"no-path-sep": strings.Repeat("a", 64) + "  \n",
		"bad-escape":  "\\" + strings.Repeat("a", 64) + "  /x\\q\n",
		"binary":      strings.Repeat("a", 64) + "  /x\x00\n",
		"pem":         "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	} {
		if _, err := tcg.ParseIMAPolicy([]byte(in)); !errors.Is(err, tcg.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
		if _, ok := tcg.SniffIMAPolicy([]byte(in)); ok {
			t.Errorf("%s: sniffed", name)
		}
	}
}

func TestParseIMAPolicyKeylime(t *testing.T) {
	b, err := os.ReadFile("testdata/keylime-runtime-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := tcg.SniffIMAPolicy(b); !ok || f != tcg.FormatKeylimePolicy {
		t.Fatalf("SniffIMAPolicy = %q %v", f, ok)
	}
	p, err := tcg.ParseIMAPolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Digests) != 3 || len(p.Excludes) != 2 || len(p.Keys) != 1 || p.Keys[0].IDString() != "f3452d23" {
		t.Fatalf("policy %+v", p)
	}
	if !reflect.DeepEqual(p.Unevaluated, []string{"keyrings"}) {
		t.Errorf("unevaluated %v", p.Unevaluated)
	}
	for path, want := range map[string]bool{
		"/lib/modules/5.4.48-openpower1/kernel/drivers/gpu/drm/x.ko": true,
		"/usr/bin/zmore": true, // re.match anchors at the start only
		"/usr/bin/dd":    false,
		"x/usr/bin/zm":   false,
	} {
		if p.Excluded(path) != want {
			t.Errorf("Excluded(%q) = %v", path, !want)
		}
	}
	if listed, ok := p.Lookup("/usr/bin/dd", strings.Repeat("0", 64)); !listed || !ok {
		t.Error("dd's digest not allowed")
	}
	p2, err := tcg.ParseIMAPolicy(p.Marshal())
	if err != nil || !reflect.DeepEqual(p2.Digests, p.Digests) || !reflect.DeepEqual(p2.Excludes, p.Excludes) {
		t.Errorf("round trip: %v", err)
	}
	legacy := `{"meta": {"version": 1}, "hashes": {"/bin/a": ["` + strings.Repeat("A", 40) + `"]}}`
	if p, err := tcg.ParseIMAPolicy([]byte(legacy)); err != nil || p.Digests["/bin/a"][0] != strings.Repeat("a", 40) {
		t.Errorf("legacy hashes: %v", err)
	}
	for name, in := range map[string]string{
		"no-digests":  `{"meta": {"version": 1}}`,
		"bad-digest":  `{"digests": {"/a": ["xyz"]}}`,
		"lookahead":   `{"digests": {}, "excludes": ["/a(?=b)"]}`,
		"version-0":   `{"meta": {"version": 0}, "digests": {}}`,
		"not-json":    `{"digests": `,
		"bad-keyring": `{"digests": {}, "verification-keys": "{"}`,
	} {
		if _, err := tcg.ParseIMAPolicy([]byte(in)); !errors.Is(err, tcg.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestIMAAppraiseKeylime judges keylime's entries against the allow
// lists of testdata.
func TestIMAAppraiseKeylime(t *testing.T) {
	l := keylimeLog(t)
	read := func(name string) *tcg.IMAPolicy {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tcg.ParseIMAPolicy(b)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	allow := read("ima-allowlist.txt")
	keylime := read("keylime-runtime-policy.json")
	keys := keylimeKey(t)
	tests := []struct {
		name   string
		policy *tcg.IMAPolicy
		keys   []tcg.IMAKey
		want   tcg.IMAAppraisal
		offend []string
	}{
		{"allow-list", allow, nil,
			tcg.IMAAppraisal{Judged: 4, NotFiles: 2, Allowed: 3, NotInAllowList: 1, SignatureUnchecked: 2, Unsigned: 2, PolicyFailures: 1},
			[]string{"/usr/bin/zmore: not in the allow list"}},
		{"allow-list-and-key", allow, keys,
			tcg.IMAAppraisal{Judged: 4, NotFiles: 2, Allowed: 3, NotInAllowList: 1, SignatureValid: 1, SignatureInvalid: 1, Unsigned: 2, PolicyFailures: 1, SignatureFailures: 1},
			[]string{"/usr/bin/zmore: signature: ima signature: no given key has ID 531f4025", "/usr/bin/zmore: not in the allow list"}},
		{"key-only", nil, keys,
			tcg.IMAAppraisal{Judged: 4, NotFiles: 2, SignatureValid: 1, SignatureInvalid: 1, Unsigned: 2, SignatureFailures: 3},
			[]string{
				"/lib/modules/5.4.48-openpower1/kernel/drivers/usb/common/usb-common.ko: unsigned, and no allow list was given to accept it",
				"/lib/modules/5.4.48-openpower1/kernel/drivers/gpu/drm/drm_panel_orientation_quirks.ko: unsigned, and no allow list was given to accept it",
				"/usr/bin/zmore: signature: ima signature: no given key has ID 531f4025",
			}},
		{"keylime-policy", keylime, keylime.Keys,
			tcg.IMAAppraisal{Judged: 3, Excluded: 2, NotFiles: 1, Allowed: 2, SignedNotListed: 1, SignatureValid: 1, Unsigned: 2},
			nil},
		{"keylime-policy-no-keys", keylime, nil,
			tcg.IMAAppraisal{Judged: 3, Excluded: 2, NotFiles: 1, Allowed: 2, DigestNotAllowed: 1, SignatureUnchecked: 1, Unsigned: 2, PolicyFailures: 1},
			[]string{"/usr/bin/dd: the allow list has other digests for this path"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := l.Appraise(0, tcg.IMAPCR, tc.policy, tc.keys)
			var got []string
			for _, o := range a.Offending {
				got = append(got, o.Path+": "+o.Reason)
			}
			a.Offending = nil
			if !reflect.DeepEqual(*a, tc.want) {
				t.Errorf("appraisal\n got %+v\nwant %+v", *a, tc.want)
			}
			if !reflect.DeepEqual(got, tc.offend) {
				t.Errorf("offending\n got %q\nwant %q", got, tc.offend)
			}
		})
	}
	// Only the bound prefix is judged.
	if a := l.Appraise(2, tcg.IMAPCR, allow, nil); a.Judged != 1 || a.NotFiles != 1 {
		t.Errorf("prefix of 2: %+v", a)
	}
}

// signedEntry makes an ima-sig entry for a file of the given content,
// signed (v2, SHA-256) with key when not nil.
func signedEntry(t testing.TB, key crypto.Signer, id [4]byte, path string, content []byte) imaEntry {
	t.Helper()
	d := sha256.Sum256(content)
	var sig []byte
	if key != nil {
		// RSA signs PKCS #1 v1.5, ECDSA an ASN.1 signature: what IMA
		// verifies.
		s, err := key.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		sig = (&tcg.IMASignature{Type: 3, Version: 2, HashAlgo: 4, KeyID: id, Sig: s}).Marshal()
	}
	return imaEntry{pcr: 10, template: "ima-sig", fields: [][]byte{dng("sha256", d[:]), nng(path), sig}}
}

// TestIMAAppraiseGenerated: signatures by an ECDSA P-256 and an RSA key,
// a violation, an ima-buf entry, and a tampered signature.
func TestIMAAppraiseGenerated(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	eck, _ := tcg.NewIMAKey(&ec.PublicKey, nil, "ec")
	rkk, _ := tcg.NewIMAKey(&rk.PublicKey, nil, "rsa")
	bad := signedEntry(t, ec, eck.ID, "/bin/tampered", []byte("t"))
	bad.fields[2][len(bad.fields[2])-1] ^= 1
	violation := imaEntry{pcr: 10, template: "ima-sig", digest: make([]byte, 20), fields: [][]byte{dng("sha256", make([]byte, 32)), nng("/var/log/x"), nil}}
	entries := []imaEntry{
		signedEntry(t, ec, eck.ID, "/bin/ec", []byte("ec")),
		signedEntry(t, rk, rkk.ID, "/bin/rsa", []byte("rsa")),
		signedEntry(t, nil, [4]byte{}, "/bin/unsigned", []byte("u")),
		bad,
		violation,
		{pcr: 10, template: "ima-buf", fields: [][]byte{dng("sha256", make([]byte, 32)), nng("kexec-cmdline"), []byte("x")}},
		signedEntry(t, ec, eck.ID, "/bin/pcr11", []byte("p")),
	}
	entries[len(entries)-1].pcr = 11
	l, err := tcg.ParseIMA(imaList(t, binary.LittleEndian, crypto.SHA1, entries...))
	if err != nil {
		t.Fatal(err)
	}
	a := l.Appraise(0, tcg.IMAPCR, nil, []tcg.IMAKey{eck, rkk})
	want := tcg.IMAAppraisal{Judged: 5, NotFiles: 1, SignatureValid: 2, SignatureInvalid: 1, Unsigned: 1, Violations: 1, SignatureFailures: 3}
	offending := a.Offending
	a.Offending = nil
	if !reflect.DeepEqual(*a, want) {
		t.Errorf("got %+v\nwant %+v", *a, want)
	}
	if len(offending) != 3 || offending[0].Path != "/bin/unsigned" || offending[1].Path != "/bin/tampered" || offending[2].Path != "/var/log/x" {
		t.Errorf("offending %+v", offending)
	}
	u := sha256.Sum256([]byte("u"))
	policy, err := tcg.ParseIMAPolicy([]byte(hex.EncodeToString(u[:]) + "  /bin/unsigned\n"))
	if err != nil {
		t.Fatal(err)
	}
	a = l.Appraise(0, tcg.IMAPCR, policy, []tcg.IMAKey{eck, rkk})
	if a.Allowed != 1 || a.SignedNotListed != 2 || a.NotInAllowList != 1 || a.PolicyFailures != 2 || a.SignatureFailures != 2 {
		t.Errorf("with allow list: %+v", a)
	}
}

func sha1Sum(b []byte) [20]byte {
	h := crypto.SHA1.New()
	h.Write(b)
	var out [20]byte
	copy(out[:], h.Sum(nil))
	return out
}
