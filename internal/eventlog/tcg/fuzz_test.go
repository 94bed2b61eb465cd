package tcg_test

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// The fuzz targets are seeded from testdata (see testdata/README.md) and
// from synthetic logs. Run one at a time; -fuzz must match exactly one:
//
//	go test -run XXX -fuzz '^FuzzParse$' -fuzztime 40s -fuzzminimizetime 0 ./internal/eventlog/tcg/
//	go test -run XXX -fuzz '^FuzzParseIMA$' -fuzztime 40s -fuzzminimizetime 0 ./internal/eventlog/tcg/
//	go test -run XXX -fuzz '^FuzzClaims$' -fuzztime 40s -fuzzminimizetime 0 ./internal/eventlog/tcg/
//
// -fuzzminimizetime 0 keeps a short run from spending most of its time
// minimizing each new input of a 15 KB seed.

var logSeeds = []string{"swtpm.bin", "ebs_event_missing_eventlog.bin", "short_no_action_eventlog.bin"}

func addLogSeeds(f *testing.F) {
	for _, name := range logSeeds {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	base := newLog(sha1sha256Bank...).event(0, tcg.EvNoAction, append([]byte("StartupLocality\x00"), 3)).event(7, tcg.EvSeparator, sepData)
	f.Add(base.bytes())
	f.Add(base.bytes(make([]byte, 64)...))
	f.Add(newLog(uint16(tcg.AlgSM3_256), 32, uint16(tcg.AlgSHA384), 48).eventWith(0xffffffff, tcg.EvEventTag, []byte("x"), [2]int{0x12, 1}, [2]int{0xc, 2}).bytes(0xff))
}

// FuzzParse: Parse never panics, fails only with ErrMalformed, and what it
// accepts survives Marshal, replays, compares and decodes.
func FuzzParse(f *testing.F) {
	addLogSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = tcg.Sniff(b)
		l, err := tcg.Parse(b)
		if err != nil {
			if !errors.Is(err, tcg.ErrMalformed) {
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
		l2, err := tcg.Parse(m)
		if err != nil {
			t.Fatalf("Parse(Marshal(log)): %v", err)
		}
		if len(l2.Events) != len(l.Events) || !bytes.Equal(l2.Marshal(), m) {
			t.Fatalf("Parse(Marshal(log)) is not stable")
		}
		for _, bank := range l.Banks() {
			r := l.Replay(bank)
			switch err := l.Compare(bank, r); {
			case err == nil:
			case errors.Is(err, tcg.ErrUnsupported) && !bank.Available():
			default:
				t.Fatalf("Compare(%v, Replay()) = %v", bank, err)
			}
			for p, v := range r {
				v = bytes.Clone(v)
				v[0] ^= 1
				if err := l.Compare(bank, map[int][]byte{p: v}); !errors.Is(err, tcg.ErrMismatch) {
					t.Fatalf("Compare accepted a changed PCR%d: %v", p, err)
				}
				break
			}
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

// FuzzParseIMA: ParseIMA never panics, fails only with ErrMalformed, and
// what it accepts survives Marshal, replays and decodes.
func FuzzParseIMA(f *testing.F) {
	b, err := os.ReadFile("testdata/keylime-ima.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(imaList(f, binary.BigEndian, crypto.SHA256,
		imaEntry{pcr: 10, template: "ima", fields: [][]byte{make([]byte, 20), []byte("boot_aggregate")}},
		imaEntry{pcr: 11, template: "ima-ngv2", fields: [][]byte{[]byte("ima:sha256:\x00"), nng("/x")}},
		imaEntry{pcr: 10, template: "ima-buf", fields: [][]byte{dng("sha1", make([]byte, 20)), nng("kexec-cmdline"), []byte("ro")}, digest: make([]byte, 32)},
	))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = tcg.SniffIMA(b)
		l, err := tcg.ParseIMA(b)
		if err != nil {
			if !errors.Is(err, tcg.ErrMalformed) {
				t.Fatalf("ParseIMA error %v is not ErrMalformed", err)
			}
			return
		}
		if m := l.Marshal(); !bytes.Equal(m, b) {
			t.Fatalf("Marshal differs from the input")
		}
		if f, ok := tcg.SniffIMA(b); !ok || f != tcg.FormatIMA {
			t.Fatalf("ParseIMA accepted what SniffIMA calls %q, %v", f, ok)
		}
		for _, bank := range []crypto.Hash{crypto.SHA1, crypto.SHA256, l.TemplateHash} {
			v := l.Replay(bank)
			if len(v) != bank.Size() {
				t.Fatalf("Replay(%v) is %d bytes", bank, len(v))
			}
			if n, ok := l.MatchPrefix(bank, tcg.IMAPCR, v); !ok || n > len(l.Entries) {
				t.Fatalf("MatchPrefix of the replay = %d, %v", n, ok)
			}
			_ = l.ReplayPadded(bank)
		}
		err = l.CheckTemplates()
		c := l.Claims()
		if len(c.Entries) != len(l.Entries) || (err == nil) != (len(c.TemplateHashMismatches) == 0) {
			t.Fatalf("%d entry claims for %d entries; CheckTemplates %v, mismatches %v", len(c.Entries), len(l.Entries), err, c.TemplateHashMismatches)
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzClaims feeds arbitrary data to the event decoders (variables and
// signature lists, image loads and device paths, load options, firmware
// blobs, tagged events, text), seeded with every event of the seed logs.
func FuzzClaims(f *testing.F) {
	for _, name := range logSeeds {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		l, err := tcg.Parse(b)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range l.Events {
			f.Add(e.PCR, e.Type, e.Digests[crypto.SHA256], e.Data)
		}
	}
	f.Fuzz(func(t *testing.T, pcr int, typ uint32, digest, data []byte) {
		l := &tcg.Log{Format: tcg.FormatCryptoAgile, Events: []tcg.Event{{
			Num: 0, PCR: pcr, Type: typ,
			Digests:      map[crypto.Hash][]byte{crypto.SHA256: digest},
			DigestValues: []tcg.Digest{{Alg: tcg.AlgSHA256, Value: digest}},
			Data:         data,
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
