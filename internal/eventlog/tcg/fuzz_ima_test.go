package tcg_test

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// FuzzParseIMAPolicy: ParseIMAPolicy never panics, fails only with
// ErrMalformed, agrees with SniffIMAPolicy, and what it accepts survives
// Marshal: ParseIMAPolicy(Marshal(p)) has p's format, digests and
// excludes.
func FuzzParseIMAPolicy(f *testing.F) {
	for _, name := range []string{"ima-allowlist.txt", "keylime-runtime-policy.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"hashes": {"/a": []}, "excludes": ["(a|b)*c"]}`))
	f.Add([]byte("\\" + "0123456789abcdef0123456789abcdef01234567 *\\\\x\\n\r\n"))
	l := keylimeLog(f)
	keys := keylimeKey(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := tcg.ParseIMAPolicy(b)
		format, sniffed := tcg.SniffIMAPolicy(b)
		if err != nil {
			if !errors.Is(err, tcg.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if sniffed {
				t.Fatalf("SniffIMAPolicy took what ParseIMAPolicy refuses: %v", err)
			}
			return
		}
		if !sniffed || format != p.Format {
			t.Fatalf("SniffIMAPolicy = %q %v, ParseIMAPolicy %q", format, sniffed, p.Format)
		}
		p2, err := tcg.ParseIMAPolicy(p.Marshal())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", p.Marshal(), err)
		}
		if p2.Format != p.Format || !reflect.DeepEqual(p2.Digests, p.Digests) || len(p2.Excludes) != len(p.Excludes) {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, p2)
		}
		_ = l.Appraise(0, tcg.IMAPCR, p, keys)
		for path := range p.Digests {
			_ = p.Excluded(path)
		}
	})
}

// FuzzParseIMASignature: ParseIMASignature never panics, fails only with
// ErrMalformed, and Marshal gives back what it accepts; Verify fails only
// with ErrSignature or ErrUnsupported.
func FuzzParseIMASignature(f *testing.F) {
	l := keylimeLog(f)
	for i := range l.Entries {
		if fs := l.Entries[i].Fields; len(fs) == 3 && len(fs[2]) > 0 {
			f.Add(fs[2])
		}
	}
	f.Add([]byte{6, 3, 4, 1, 2, 3, 4, 0, 1, 0})
	keys := keylimeKey(f)
	digest := l.Entries[3].Fields[0][8:]
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := tcg.ParseIMASignature(b)
		if err != nil {
			if !errors.Is(err, tcg.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(s.Marshal(), b) {
			t.Fatalf("Marshal differs from the input")
		}
		_, _ = s.Hash()
		if err := s.Verify(keys, crypto.SHA256, digest); err != nil && !errors.Is(err, tcg.ErrSignature) && !errors.Is(err, tcg.ErrUnsupported) {
			t.Fatalf("Verify error %v", err)
		}
	})
}
