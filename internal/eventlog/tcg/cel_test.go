package tcg_test

import (
	"bytes"
	"crypto"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/internal/testutil"
)

// TestCorpusCEL reads the Confidential Space launcher's Canonical Event
// Log of the corpus (base64 there, binary in testdata): every record's
// SHA-384 digest must be the hash of its content TLV, and CCMR 4 (TDX
// RTMR3) must replay to the chain of those hashes.
func TestCorpusCEL(t *testing.T) {
	dir := testutil.CorpusDir(t)
	b64, err := os.ReadFile(filepath.Join(dir, "tpm/eventlogs/google/canonical-eventlog-cel.b64"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64)))
	if err != nil {
		t.Fatal(err)
	}
	if seed, err := os.ReadFile("testdata/confidential-space-cel.bin"); err != nil || !bytes.Equal(seed, b) {
		t.Fatalf("testdata/confidential-space-cel.bin is not the corpus CEL (%v)", err)
	}
	if f, ok := tcg.SniffCEL(b); !ok || f != tcg.FormatCEL {
		t.Errorf("SniffCEL = %q, %v", f, ok)
	}
	if _, ok := tcg.Sniff(b); ok {
		t.Error("Sniff takes a CEL for a TCG event log")
	}
	if _, ok := tcg.SniffIMA(b); ok {
		t.Error("SniffIMA takes a CEL for an IMA list")
	}
	l, err := tcg.ParseCEL(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Records) != 18 {
		t.Fatalf("%d records, want 18", len(l.Records))
	}
	rtmr3 := make([]byte, 48)
	for i, r := range l.Records {
		if r.RecNum != uint64(i) || r.Register != "CCMR" || r.Index != 4 || len(r.DigestValues) != 1 || r.ContentType != 80 {
			t.Fatalf("record %d: recnum %d, %s%d, %d digests, content type %d", i, r.RecNum, r.Register, r.Index, len(r.DigestValues), r.ContentType)
		}
		d := sha512.Sum384(r.Content)
		s := sha512.Sum384(append(rtmr3, d[:]...))
		rtmr3 = s[:]
	}
	if got := l.Replay(crypto.SHA384); len(got) != 1 || !bytes.Equal(got[4], rtmr3) {
		t.Errorf("Replay = %x, want CCMR4 %x", got, rtmr3)
	}
	if err := l.Compare(crypto.SHA384, map[int][]byte{4: rtmr3}); err != nil {
		t.Errorf("Compare: %v", err)
	}
	c := l.Claims()
	for _, r := range c.Records {
		if !r.DataVerified || r.ContentType != "cos" {
			t.Errorf("record %d: %+v", r.Num, r)
		}
	}
	for i, want := range []struct{ typ, prefix string }{
		{"image_ref", "us-west1-docker.pkg.dev/confidential-space-images-dev/"},
		{"image_digest", "sha256:777049f969d790c7fa9edf5783ad22b2d4fa25f31612e95639eb3b5098ff8066"},
		{"restart_policy", "Never"},
		{"image_id", "sha256:1db014580ad43779e3a4a2b7b3b393ea3517c21efc8bef38f6e61c0c724f8833"},
		{"arg", "/cuda-samples/sample"},
		{"env_var", "PATH="},
	} {
		if r := c.Records[i]; r.EventType != want.typ || !strings.HasPrefix(r.Text, want.prefix) {
			t.Errorf("record %d: %s %q, want %s %q", i, r.EventType, r.Text, want.typ, want.prefix)
		}
	}
	if last := c.Records[17]; last.EventType != "launch_separator" || last.Text != "" || last.Value != "" {
		t.Errorf("last record %+v, want an empty launch_separator", last)
	}
	if _, err := json.Marshal(c); err != nil {
		t.Fatal(err)
	}
	t.Log(l)

	// A changed digest: CCMR4 no longer matches, the record is the suspect.
	bad := bytes.Clone(b)
	r := l.Records[5]
	bad[r.Offset+13+6+5+5] ^= 1 // recnum TLV, index TLV, digests TLV header, digest TLV header
	bl, err := tcg.ParseCEL(bad)
	if err != nil {
		t.Fatal(err)
	}
	var me *tcg.MismatchError
	err = bl.Compare(crypto.SHA384, map[int][]byte{4: rtmr3})
	if !errors.As(err, &me) || len(me.Mismatches) != 1 || me.Mismatches[0].Register != "CCMR" || me.Mismatches[0].PCR != 4 ||
		len(me.Mismatches[0].Suspects) != 1 || me.Mismatches[0].Suspects[0] != 5 {
		t.Errorf("Compare after a digest flip = %v", err)
	}
	t.Log(err)
	// A changed content: the record is no longer data_verified.
	bad = bytes.Clone(b)
	bad[r.Offset+len(b[r.Offset:])-len(b[l.Records[6].Offset:])-1] ^= 1
	bl, err = tcg.ParseCEL(bad)
	if err != nil {
		t.Fatal(err)
	}
	if bc := bl.Claims(); bc.Records[5].DataVerified || !bc.Records[4].DataVerified {
		t.Errorf("record 5 still data_verified after its content changed")
	}
}

func TestParseCELMalformed(t *testing.T) {
	b, err := os.ReadFile("testdata/confidential-space-cel.bin")
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"empty":        nil,
		"truncated":    b[:len(b)-1],
		"tcg-log":      newLog(sha256Bank...).event(0, tcg.EvSeparator, sepData).bytes(),
		"recnum-short": append([]byte{0, 0, 0, 0, 7}, b[5:]...),
		"length-huge":  append([]byte{0, 0x7f, 0xff, 0xff, 0xff}, b[5:]...),
		"no-register":  append(bytes.Clone(b[:13]), b[19:]...),
	} {
		if _, err := tcg.ParseCEL(in); !errors.Is(err, tcg.ErrMalformed) {
			t.Errorf("%s: ParseCEL = %v, want ErrMalformed", name, err)
		}
		if _, ok := tcg.SniffCEL(in); ok && name != "truncated" {
			t.Errorf("%s: SniffCEL claims it", name)
		}
	}
}

// FuzzParseCEL: no panic, only ErrMalformed, and what parses replays,
// compares and decodes.
func FuzzParseCEL(f *testing.F) {
	b, err := os.ReadFile("testdata/confidential-space-cel.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = tcg.SniffCEL(b)
		l, err := tcg.ParseCEL(b)
		if err != nil {
			if !errors.Is(err, tcg.ErrMalformed) {
				t.Fatalf("ParseCEL error %v is not ErrMalformed", err)
			}
			return
		}
		for _, bank := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			r := l.Replay(bank)
			if err := l.Compare(bank, r); err != nil {
				t.Fatalf("Compare(Replay()) = %v", err)
			}
		}
		c := l.Claims()
		if len(c.Records) != len(l.Records) {
			t.Fatal("claims")
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatal(err)
		}
		_ = l.String()
	})
}
