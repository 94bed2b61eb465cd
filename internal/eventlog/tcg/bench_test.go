package tcg_test

import (
	"crypto"
	"os"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

func BenchmarkParseCompare(b *testing.B) {
	log, want := seed(b, "swtpm.bin")
	b.SetBytes(int64(len(log)))
	for b.Loop() {
		l, err := tcg.Parse(log)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Compare(crypto.SHA256, want[crypto.SHA256]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClaims(b *testing.B) {
	log, _ := seed(b, "swtpm.bin")
	l, err := tcg.Parse(log)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = l.Claims()
	}
}

func BenchmarkParseIMA(b *testing.B) {
	list, err := os.ReadFile("testdata/keylime-ima.bin")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(list)))
	for b.Loop() {
		l, err := tcg.ParseIMA(list)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.CheckTemplates(); err != nil {
			b.Fatal(err)
		}
		_ = l.Replay(crypto.SHA256)
	}
}
