package ccel_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
)

// The fuzz targets are seeded from testdata (see testdata/README.md) and
// from synthetic logs. Run one at a time; -fuzz must match exactly one:
//
//	go test -run XXX -fuzz '^FuzzParse$' -fuzztime 45s ./internal/eventlog/ccel/
//	go test -run XXX -fuzz '^FuzzParseACPITable$' -fuzztime 45s ./internal/eventlog/ccel/
//	go test -run XXX -fuzz '^FuzzClaims$' -fuzztime 45s ./internal/eventlog/ccel/
//
// Add -fuzzminimizetime 0 on a short run: minimizing each new interesting
// input of an 11 KB seed otherwise takes most of it.

var fuzzSeeds = []string{"intel-CCEL_unpadded.data.bin", "CCEL_AAEL_alibabacloud.bin", "intel-CCEL.table.bin"}

func addSeeds(f *testing.F) {
	for _, name := range fuzzSeeds {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	base := newLog(sha384Bank...)
	f.Add(base.pad())
	f.Add(base.pad(make([]byte, 64)...))
	f.Add(newLog(uint16(ccel.AlgSM3_256), 32, uint16(ccel.AlgSHA384), 48).
		event(4, ccel.EvEventTag, append([]byte("LEAA\x0b\x00\x00\x00"), "d op {\"a\":1}"...), [2]int{0x12, 1}, [2]int{0xc, 2}).pad(0xff))
}

// FuzzParse: Parse never panics, fails only with ErrMalformed, and what it
// accepts survives Marshal, replays, compares and decodes.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ccel.Sniff(b)
		l, err := ccel.Parse(b)
		if err != nil {
			if !errors.Is(err, ccel.ErrMalformed) {
				t.Fatalf("Parse error %v is not ErrMalformed", err)
			}
			return
		}
		if l.Length+l.Padding != len(b) {
			t.Fatalf("Length %d + Padding %d != %d", l.Length, l.Padding, len(b))
		}
		m := l.Marshal()
		if !bytes.Equal(m, b[:l.Length]) {
			t.Fatalf("Marshal differs from the parsed bytes")
		}
		l2, err := ccel.Parse(m)
		if err != nil {
			t.Fatalf("Parse(Marshal(log)): %v", err)
		}
		if len(l2.Events) != len(l.Events) || !bytes.Equal(l2.Marshal(), m) {
			t.Fatalf("Parse(Marshal(log)) is not stable")
		}
		r := l.Replay()
		switch err := l.Compare(r); {
		case err == nil:
		case errors.Is(err, ccel.ErrUnsupported) && !l.HasBank(ccel.AlgSHA384):
		case errors.Is(err, ccel.ErrMalformed):
		default:
			t.Fatalf("Compare(Replay()) = %v", err)
		}
		r[0][0] ^= 1
		if err := l.Compare(r); err == nil {
			t.Fatal("Compare accepted a changed RTMR0")
		}
		c := l.Claims()
		if len(c.Events) != len(l.Events) {
			t.Fatalf("%d event claims for %d events", len(c.Events), len(l.Events))
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("claims do not marshal: %v", err)
		}
	})
}

// FuzzParseACPITable: no panic, only ErrMalformed, and Sniff agrees with
// what parses.
func FuzzParseACPITable(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		tb, err := ccel.ParseACPITable(b)
		if err != nil {
			if !errors.Is(err, ccel.ErrMalformed) {
				t.Fatalf("ParseACPITable error %v is not ErrMalformed", err)
			}
			return
		}
		if format, ok := ccel.Sniff(b); !ok || format != ccel.FormatTable {
			t.Fatalf("ParseACPITable accepted what Sniff calls %q, %v", format, ok)
		}
		_ = tb.String()
		if _, err := json.Marshal(tb); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzClaims feeds arbitrary data to the event decoders (variables, image
// loads and device paths, firmware blobs, tagged events, AAEL, text),
// seeded with the data of every event of the seed logs.
func FuzzClaims(f *testing.F) {
	for _, name := range fuzzSeeds[:2] {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		l, err := ccel.Parse(b)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range l.Events {
			f.Add(uint32(e.Type), e.Digest(ccel.AlgSHA384), e.Data)
		}
	}
	f.Fuzz(func(t *testing.T, typ uint32, digest, data []byte) {
		l := &ccel.Log{Events: []ccel.Event{{
			Num: 1, MRIndex: 1, Type: ccel.EventType(typ),
			Digests: []ccel.Digest{{Alg: ccel.AlgSHA384, Value: digest}},
			Data:    data,
		}}}
		c := l.Claims()
		if len(c.Events) != 1 || c.Events[0].Size != len(data) {
			t.Fatalf("claims %+v", c.Events)
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatal(err)
		}
	})
}
