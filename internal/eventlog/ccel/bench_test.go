package ccel_test

import (
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
)

func BenchmarkParseCompare(b *testing.B) {
	log, want := seed(b, "CCEL_AAEL_alibabacloud.bin")
	b.SetBytes(int64(len(log)))
	for b.Loop() {
		l, err := ccel.Parse(log)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Compare(want); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClaims(b *testing.B) {
	log, _ := seed(b, "CCEL_AAEL_alibabacloud.bin")
	l, err := ccel.Parse(log)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = l.Claims()
	}
}
