package tcg_test

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// logBuilder writes synthetic logs for the edge cases real logs lack.
type logBuilder struct {
	b     []byte
	sizes map[tcg.AlgID]int
	sha1  bool // SHA-1 format
}

// newLog starts a crypto-agile log whose Spec ID event declares algs
// (ID, size pairs).
func newLog(algs ...uint16) *logBuilder {
	var spec []byte
	spec = append(spec, "Spec ID Event03\x00"...)
	spec = binary.LittleEndian.AppendUint32(spec, 0)
	spec = append(spec, 0, 2, 0, 2)
	spec = binary.LittleEndian.AppendUint32(spec, uint32(len(algs)/2))
	lb := &logBuilder{sizes: map[tcg.AlgID]int{}}
	for i := 0; i+1 < len(algs); i += 2 {
		spec = binary.LittleEndian.AppendUint16(spec, algs[i])
		spec = binary.LittleEndian.AppendUint16(spec, algs[i+1])
		lb.sizes[tcg.AlgID(algs[i])] = int(algs[i+1])
	}
	spec = append(spec, 0)
	lb.u32(0)
	lb.u32(tcg.EvNoAction)
	lb.b = append(lb.b, make([]byte, 20)...)
	lb.u32(uint32(len(spec)))
	lb.b = append(lb.b, spec...)
	return lb
}

// newSHA1Log starts a SHA-1-format log.
func newSHA1Log() *logBuilder { return &logBuilder{sha1: true} }

func (lb *logBuilder) u32(v uint32) { lb.b = binary.LittleEndian.AppendUint32(lb.b, v) }

// event appends an event whose digests are the real hashes of data in
// every declared bank (SHA-1 in a SHA-1-format log).
func (lb *logBuilder) event(pcr, typ uint32, data []byte) *logBuilder {
	var ds [][2]int
	for id := range lb.sizes {
		ds = append(ds, [2]int{int(id), -1})
	}
	return lb.eventWith(pcr, typ, data, ds...)
}

// eventWith appends an event with one digest per (alg, fill byte); fill
// -1 means the hash of data.
func (lb *logBuilder) eventWith(pcr, typ uint32, data []byte, digests ...[2]int) *logBuilder {
	lb.u32(pcr)
	lb.u32(typ)
	if lb.sha1 {
		d := sha1.Sum(data)
		lb.b = append(lb.b, d[:]...)
	} else {
		// Sort by ID for a stable encoding.
		for i := range digests {
			for j := i + 1; j < len(digests); j++ {
				if digests[j][0] < digests[i][0] {
					digests[i], digests[j] = digests[j], digests[i]
				}
			}
		}
		lb.u32(uint32(len(digests)))
		for _, d := range digests {
			id := tcg.AlgID(d[0])
			lb.b = binary.LittleEndian.AppendUint16(lb.b, uint16(id))
			size := lb.sizes[id]
			if d[1] >= 0 {
				lb.b = append(lb.b, bytes.Repeat([]byte{byte(d[1])}, size)...)
				continue
			}
			x := id.Hash().New()
			x.Write(data)
			lb.b = append(lb.b, x.Sum(nil)...)
		}
	}
	lb.u32(uint32(len(data)))
	lb.b = append(lb.b, data...)
	return lb
}

func (lb *logBuilder) bytes(pad ...byte) []byte { return append(bytes.Clone(lb.b), pad...) }

var (
	sha256Bank     = []uint16{uint16(tcg.AlgSHA256), 32}
	sha1sha256Bank = []uint16{uint16(tcg.AlgSHA1), 20, uint16(tcg.AlgSHA256), 32}
	sepData        = []byte{0, 0, 0, 0}
)

func TestParsePadding(t *testing.T) {
	base := newLog(sha256Bank...).event(0, tcg.EvSeparator, sepData)
	for _, tc := range []struct {
		name    string
		in      []byte
		events  int
		padding int
		err     error
	}{
		{"unpadded", base.bytes(), 2, 0, nil},
		{"zero-fill", base.bytes(make([]byte, 4096)...), 2, 4096, nil},
		{"ff-fill", base.bytes(bytes.Repeat([]byte{0xff}, 100)...), 2, 100, nil},
		{"mixed-fill", base.bytes(append(bytes.Repeat([]byte{0xff}, 8), make([]byte, 9)...)...), 2, 17, nil},
		{"short-tail", base.bytes(0xff, 0xff, 0xff), 2, 3, nil},
		{"short-tail-junk", base.bytes(0xff, 0x01), 0, 0, tcg.ErrMalformed},
		{"fill-then-data", base.bytes(append(make([]byte, 64), 0x42)...), 0, 0, tcg.ErrMalformed},
		{"truncated-event", base.bytes(1, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0x0b, 0), 0, 0, tcg.ErrMalformed},
		{"header-only", newLog(sha256Bank...).bytes(), 1, 0, nil},
		{"sha1-format-zero-fill", newSHA1Log().event(0, tcg.EvSeparator, sepData).bytes(make([]byte, 100)...), 1, 100, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := tcg.Parse(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Parse = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Events) != tc.events || l.Padding != tc.padding || l.Length+l.Padding != len(tc.in) {
				t.Errorf("events %d padding %d length %d, want %d, %d, %d", len(l.Events), l.Padding, l.Length, tc.events, tc.padding, len(tc.in)-tc.padding)
			}
		})
	}
}

// TestParseWindowsEvent: an event with PCR index 0xFFFFFFFF and a real
// type is read, not taken for padding, and never replayed.
func TestParseWindowsEvent(t *testing.T) {
	in := newLog(sha256Bank...).event(0, tcg.EvSeparator, sepData).event(0xffffffff, tcg.EvNoAction, []byte("WBCL")).event(0xffffffff, tcg.EvEventTag, []byte("tag")).bytes()
	l, err := tcg.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Events) != 4 || uint32(l.Events[2].PCR) != 0xffffffff || l.Events[3].Extends() {
		t.Fatalf("events %+v", l.Events)
	}
	if got := l.Replay(crypto.SHA256); len(got) != 1 {
		t.Errorf("Replay has PCRs %v, want only PCR 0", got)
	}
	if !bytes.Equal(l.Marshal(), in) {
		t.Error("Marshal differs")
	}
}

func TestParseMalformed(t *testing.T) {
	good := newLog(sha256Bank...).event(0, tcg.EvSeparator, sepData).bytes()
	hugeCount := newLog(sha256Bank...).bytes()
	hugeCount = binary.LittleEndian.AppendUint32(hugeCount, 1)
	hugeCount = binary.LittleEndian.AppendUint32(hugeCount, 4)
	hugeCount = binary.LittleEndian.AppendUint32(hugeCount, 0xffffffff)
	hugeCount = append(hugeCount, make([]byte, 64)...)
	specSize := len(good) - 32 - (12 + 2 + 32 + 4 + 4)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"short", good[:20]},
		{"zeros", make([]byte, 64)},
		{"header-size-overflow", setU32(good, 28, 0xffffffff)},
		{"spec-id-not-pcr0", setU32(good, 0, 1)},
		{"spec-id-digest", func() []byte { b := bytes.Clone(good); b[8] = 1; return b }()},
		{"spec-id-truncated", setU32(setU32(good, 28, 20), 32+16, 0)[:32+20]},
		{"sha256-wrong-size", newLog(uint16(tcg.AlgSHA256), 20).bytes()},
		{"no-algorithms", newLog().bytes()},
		{"duplicate-algorithm", newLog(append(sha256Bank, sha256Bank...)...).bytes()},
		{"vendor-info-size", func() []byte { b := bytes.Clone(good); b[32+specSize-1] = 5; return b }()},
		{"undeclared-digest-alg", newLog(sha256Bank...).eventWith(0, tcg.EvSeparator, sepData, [2]int{int(tcg.AlgSHA384), 1}).bytes()},
		{"digest-twice", newLog(sha1sha256Bank...).eventWith(0, tcg.EvSeparator, sepData, [2]int{int(tcg.AlgSHA1), 1}, [2]int{int(tcg.AlgSHA1), 1}).bytes()},
		{"digest-count-huge", hugeCount},
		{"event-size-huge", setU32(good, len(good)-8, 0x7fffffff)},
		{"sha1-event-size-huge", setU32(newSHA1Log().event(0, tcg.EvSeparator, sepData).bytes(), 28, 0x7fffffff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tcg.Parse(tc.in); !errors.Is(err, tcg.ErrMalformed) {
				t.Errorf("Parse = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestReplayRules: EV_NO_ACTION and PCRs outside 0..23 are not extended;
// PCR 0 starts at the StartupLocality; 17..22 with no events are all
// ones; an event without a digest in a bank leaves its PCR out of that
// bank's replay and makes Compare name it.
func TestReplayRules(t *testing.T) {
	loc := append([]byte("StartupLocality\x00"), 3)
	in := newLog(sha1sha256Bank...).
		event(0, tcg.EvNoAction, loc).
		event(0, tcg.EvSCRTMVersion, []byte("v1")).
		event(4, tcg.EvNoAction, []byte("ignored")).
		event(24, tcg.EvSeparator, sepData).
		eventWith(5, tcg.EvSeparator, sepData, [2]int{int(tcg.AlgSHA1), -1}). // no SHA-256
		event(17, tcg.EvEventTag, []byte("drtm")).
		bytes()
	l, err := tcg.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if loc, ok := l.StartupLocality(); !ok || loc != 3 {
		t.Fatalf("StartupLocality = %d, %v", loc, ok)
	}
	init0 := make([]byte, 32)
	init0[31] = 3
	d := sha256.Sum256([]byte("v1"))
	want0 := sha256.Sum256(append(init0, d[:]...))
	// A dynamic launch resets PCR 17 to zero before extending it.
	d = sha256.Sum256([]byte("drtm"))
	want17 := sha256.Sum256(append(make([]byte, 32), d[:]...))
	r := l.Replay(crypto.SHA256)
	if len(r) != 2 || !bytes.Equal(r[0], want0[:]) || !bytes.Equal(r[17], want17[:]) {
		t.Fatalf("Replay(SHA-256) = %x, want PCR0 %x and PCR17 %x", r, want0, want17)
	}
	if r1 := l.Replay(crypto.SHA1); len(r1) != 3 || r1[5] == nil {
		t.Errorf("Replay(SHA-1) has PCRs %v, want 0, 5 and 17", r1)
	}
	ones := bytes.Repeat([]byte{0xff}, 32)
	if err := l.Compare(crypto.SHA256, map[int][]byte{0: want0[:], 4: make([]byte, 32), 17: want17[:], 18: ones, 23: make([]byte, 32)}); err != nil {
		t.Errorf("Compare: %v", err)
	}
	if err := l.Compare(crypto.SHA256, map[int][]byte{5: make([]byte, 32)}); !errors.Is(err, tcg.ErrMalformed) {
		t.Errorf("Compare of PCR5, whose event has no SHA-256 digest = %v, want ErrMalformed", err)
	}
	if err := l.Compare(crypto.SHA384, map[int][]byte{0: make([]byte, 48)}); !errors.Is(err, tcg.ErrUnsupported) {
		t.Errorf("Compare in an absent bank = %v, want ErrUnsupported", err)
	}
	if err := l.Compare(crypto.SHA256, map[int][]byte{24: make([]byte, 32)}); !errors.Is(err, tcg.ErrUnsupported) {
		t.Errorf("Compare of PCR 24 = %v, want ErrUnsupported", err)
	}
	for _, ec := range l.Claims().Events {
		if want := ec.Num == 2 || ec.Num == 5 || ec.Num == 6; ec.Replayed != want {
			t.Errorf("event #%d (%s, PCR %d) replayed = %v", ec.Num, ec.Type, ec.PCR, ec.Replayed)
		}
	}
}

// TestCompareMismatch checks what a mismatch reports: the PCR, the
// matching prefix when there is one, the suspects.
func TestCompareMismatch(t *testing.T) {
	in := newLog(sha256Bank...).
		event(4, tcg.EvEFIAction, []byte("Calling EFI Application from Boot Option")).
		event(4, tcg.EvSeparator, sepData).
		event(4, tcg.EvEFIBootServicesApplication, []byte("image")).
		bytes()
	l, err := tcg.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	full := l.Replay(crypto.SHA256)[4]
	prefix, err := tcg.Parse(in[:l.Events[3].Offset])
	if err != nil {
		t.Fatal(err)
	}
	two := prefix.Replay(crypto.SHA256)[4]
	mism := func(err error) tcg.PCRMismatch {
		t.Helper()
		var me *tcg.MismatchError
		if !errors.Is(err, tcg.ErrMismatch) || !errors.As(err, &me) || len(me.Mismatches) != 1 {
			t.Fatalf("Compare = %v, want one mismatch", err)
		}
		t.Log(err)
		return me.Mismatches[0]
	}
	m := mism(l.Compare(crypto.SHA256, map[int][]byte{4: two}))
	if m.PCR != 4 || m.Matched != 2 || m.DivergesAt != 3 || m.First != 1 || m.Last != 3 || m.Events != 3 {
		t.Errorf("quote before the last event: %+v", m)
	}
	m = mism(l.Compare(crypto.SHA256, map[int][]byte{4: make([]byte, 32)}))
	if m.Matched != 0 || m.DivergesAt != 1 {
		t.Errorf("quote at the initial value: %+v", m)
	}
	m = mism(l.Compare(crypto.SHA256, map[int][]byte{4: full[:31]}))
	if m.Matched != -1 {
		t.Errorf("short expected value: %+v", m)
	}
	m = mism(l.Compare(crypto.SHA256, map[int][]byte{7: full}))
	if m.PCR != 7 || m.Events != 0 || m.DivergesAt != -1 {
		t.Errorf("PCR without events: %+v", m)
	}
	// Alter the separator's digest: it is the suspect.
	bad := bytes.Clone(in)
	bad[l.Events[2].Offset+14] ^= 1
	bl, err := tcg.Parse(bad)
	if err != nil {
		t.Fatal(err)
	}
	m = mism(bl.Compare(crypto.SHA256, map[int][]byte{4: full}))
	if m.Matched != -1 || m.DivergesAt != 1 || len(m.Suspects) != 1 || m.Suspects[0] != 2 {
		t.Errorf("altered separator: %+v", m)
	}
}

func TestParseDoesNotAlias(t *testing.T) {
	in := newLog(sha256Bank...).event(0, tcg.EvSeparator, sepData).bytes()
	l, err := tcg.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	before := l.Replay(crypto.SHA256)[0]
	for i := range in {
		in[i] = 0
	}
	if !bytes.Equal(l.Replay(crypto.SHA256)[0], before) {
		t.Error("the log changed when the caller's buffer did")
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []byte
		format string
	}{
		{"crypto-agile", newLog(sha1sha256Bank...).event(0, tcg.EvSeparator, sepData).bytes(), tcg.FormatCryptoAgile},
		{"sha1", newSHA1Log().event(0, tcg.EvSCRTMVersion, []byte("v")).event(7, tcg.EvSeparator, sepData).bytes(), tcg.FormatSHA1},
		{"sha1-padded", newSHA1Log().event(0, tcg.EvSeparator, sepData).bytes(make([]byte, 40)...), tcg.FormatSHA1},
		// A CC event log (TDX: SHA-384 only; Hygon CSV: SM3 only) is
		// ccel.Sniff's.
		{"sha384-only", newLog(uint16(tcg.AlgSHA384), 48).bytes(), ""},
		{"sm3-only", newLog(uint16(tcg.AlgSM3_256), 32).bytes(), ""},
		{"sha256-sha384", newLog(uint16(tcg.AlgSHA256), 32, uint16(tcg.AlgSHA384), 48).bytes(), tcg.FormatCryptoAgile},
		{"bad-spec-id", newLog().bytes(), ""},
		{"sha1-pcr-24", newSHA1Log().event(24, tcg.EvSeparator, sepData).bytes(), ""},
		{"sha1-unknown-type", newSHA1Log().event(0, 0x1234, sepData).bytes(), ""},
		{"sha1-second-event-bad", newSHA1Log().event(0, tcg.EvSeparator, sepData).event(99, tcg.EvSeparator, sepData).bytes(), ""},
		{"zeros", make([]byte, 64), ""},
		{"garbage", []byte(strings.Repeat("x", 200)), ""},
		{"empty", nil, ""},
	} {
		if got, ok := tcg.Sniff(tc.in); got != tc.format || ok != (tc.format != "") {
			t.Errorf("%s: Sniff = %q, %v; want %q", tc.name, got, ok, tc.format)
		}
	}
}

func setU32(b []byte, off int, v uint32) []byte {
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint32(b[off:], v)
	return b
}
