package ccel_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
)

// logBuilder writes synthetic logs for the edge cases real logs lack.
type logBuilder struct{ b []byte }

// newLog starts a log whose Spec ID header declares algs (ID, size).
func newLog(algs ...uint16) *logBuilder {
	var spec []byte
	spec = append(spec, "Spec ID Event03\x00"...)
	spec = binary.LittleEndian.AppendUint32(spec, 0)
	spec = append(spec, 0, 2, 0, 2)
	spec = binary.LittleEndian.AppendUint32(spec, uint32(len(algs)/2))
	for _, a := range algs {
		spec = binary.LittleEndian.AppendUint16(spec, a)
	}
	spec = append(spec, 0)
	lb := &logBuilder{}
	lb.u32(1)
	lb.u32(uint32(ccel.EvNoAction))
	lb.b = append(lb.b, make([]byte, 20)...)
	lb.u32(uint32(len(spec)))
	lb.b = append(lb.b, spec...)
	return lb
}

func (lb *logBuilder) u32(v uint32) { lb.b = binary.LittleEndian.AppendUint32(lb.b, v) }

// event appends a TCG_PCR_EVENT2 with one digest per (alg, fill byte).
func (lb *logBuilder) event(mr uint32, typ ccel.EventType, data []byte, digests ...[2]int) *logBuilder {
	lb.u32(mr)
	lb.u32(uint32(typ))
	lb.u32(uint32(len(digests)))
	for _, d := range digests {
		lb.b = binary.LittleEndian.AppendUint16(lb.b, uint16(d[0]))
		size := 48
		if ccel.AlgID(d[0]) == ccel.AlgSHA256 {
			size = 32
		}
		lb.b = append(lb.b, bytes.Repeat([]byte{byte(d[1])}, size)...)
	}
	lb.u32(uint32(len(data)))
	lb.b = append(lb.b, data...)
	return lb
}

func (lb *logBuilder) pad(b ...byte) []byte { return append(bytes.Clone(lb.b), b...) }

var (
	sha384Bank = []uint16{uint16(ccel.AlgSHA384), 48}
	sepData    = []byte{0, 0, 0, 0}
)

func TestParsePadding(t *testing.T) {
	base := newLog(sha384Bank...).event(1, ccel.EvSeparator, sepData, [2]int{0xc, 0xaa})
	for _, tc := range []struct {
		name    string
		in      []byte
		events  int
		padding int
		err     error
	}{
		{"unpadded", base.pad(), 1, 0, nil},
		{"zero-fill", base.pad(make([]byte, 4096)...), 1, 4096, nil},
		{"ff-fill", base.pad(bytes.Repeat([]byte{0xff}, 100)...), 1, 100, nil},
		{"mixed-fill", base.pad(append(bytes.Repeat([]byte{0xff}, 8), make([]byte, 9)...)...), 1, 17, nil},
		{"short-tail", base.pad(0xff, 0xff, 0xff), 1, 3, nil},
		{"short-tail-junk", base.pad(0xff, 0x01), 0, 0, ccel.ErrMalformed},
		{"fill-then-data", base.pad(append(make([]byte, 64), 0x42)...), 0, 0, ccel.ErrMalformed},
		{"truncated-event", base.pad(1, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0x0c, 0), 0, 0, ccel.ErrMalformed},
		{"header-only", newLog(sha384Bank...).pad(), 0, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ccel.Parse(tc.in)
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

func TestParseMalformed(t *testing.T) {
	good := newLog(sha384Bank...).event(1, ccel.EvSeparator, sepData, [2]int{0xc, 1}).pad()
	hugeCount := newLog(sha384Bank...).pad()
	hugeCount = binary.LittleEndian.AppendUint32(hugeCount, 1)
	hugeCount = binary.LittleEndian.AppendUint32(hugeCount, 4)
	hugeCount = binary.LittleEndian.AppendUint32(hugeCount, 0xffffffff)
	hugeCount = append(hugeCount, make([]byte, 64)...)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"short", good[:20]},
		{"not-no-action", setU32(good, 4, uint32(ccel.EvSeparator))},
		{"header-size-overflow", setU32(good, 28, 0xffffffff)},
		{"not-spec-id", func() []byte { b := bytes.Clone(good); b[32] = 'X'; return b }()},
		{"sha1-only-legacy", func() []byte {
			b := bytes.Clone(good)
			copy(b[32:], "Spec ID Event02\x00")
			return b
		}()},
		{"sha384-wrong-size", newLog(uint16(ccel.AlgSHA384), 32).pad()},
		{"no-algorithms", newLog().pad()},
		{"duplicate-algorithm", newLog(append(sha384Bank, sha384Bank...)...).pad()},
		{"undeclared-digest-alg", newLog(sha384Bank...).event(1, ccel.EvSeparator, sepData, [2]int{0xb, 1}).pad()},
		{"digest-count-huge", hugeCount},
		{"event-size-huge", setU32(good, len(good)-8, 0x7fffffff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ccel.Parse(tc.in); !errors.Is(err, ccel.ErrMalformed) {
				t.Errorf("Parse = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestParseMultiBank(t *testing.T) {
	in := newLog(uint16(ccel.AlgSHA256), 32, uint16(ccel.AlgSHA384), 48).
		event(1, ccel.EvSeparator, sepData, [2]int{0xb, 1}, [2]int{0xc, 2}).
		event(4, ccel.EvSeparator, sepData, [2]int{0xb, 3}). // no SHA-384
		pad()
	l, err := ccel.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Events[0].Digest(ccel.AlgSHA384); !bytes.Equal(got, bytes.Repeat([]byte{2}, 48)) {
		t.Errorf("SHA-384 digest = %x", got)
	}
	if err := l.Compare([4][48]byte{}); !errors.Is(err, ccel.ErrMalformed) {
		t.Errorf("Compare with an event lacking SHA-384 = %v, want ErrMalformed", err)
	}
	if _, ok := ccel.Sniff(in); ok {
		t.Error("Sniff took a log with a SHA-256 bank (a TPM log's shape) for a CC log")
	}
}

func TestReplayIgnores(t *testing.T) {
	// EV_NO_ACTION in an RTMR, MR index 0 (MRTD) and 5: not replayed.
	in := newLog(sha384Bank...).
		event(0, ccel.EvSeparator, sepData, [2]int{0xc, 1}).
		event(2, ccel.EvNoAction, []byte("StartupLocality\x00\x00"), [2]int{0xc, 0}).
		event(5, ccel.EvSeparator, sepData, [2]int{0xc, 1}).
		pad()
	l, err := ccel.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Compare([4][48]byte{}); err != nil {
		t.Errorf("Compare(zero) = %v", err)
	}
	for _, ec := range l.Claims().Events {
		if ec.Replayed {
			t.Errorf("event #%d (%s, MR %d) claimed replayed", ec.Num, ec.Type, ec.MR)
		}
	}
}

func TestParseDoesNotAlias(t *testing.T) {
	in := newLog(sha384Bank...).event(1, ccel.EvSeparator, sepData, [2]int{0xc, 1}).pad()
	l, err := ccel.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	before := l.Replay()
	for i := range in {
		in[i] = 0
	}
	if l.Replay() != before {
		t.Error("the log changed when the caller's buffer did")
	}
}

func TestSniff(t *testing.T) {
	log := newLog(sha384Bank...).event(1, ccel.EvSeparator, sepData, [2]int{0xc, 1}).pad()
	sm3 := newLog(uint16(ccel.AlgSM3_256), 32).pad()
	table := make([]byte, 56)
	copy(table, "CCEL")
	binary.LittleEndian.PutUint32(table[4:], 56)
	for _, tc := range []struct {
		name   string
		in     []byte
		format string
	}{
		{"log", log, ccel.FormatLog},
		{"sm3-log", sm3, ccel.FormatLog},
		{"table", table, ccel.FormatTable},
		{"table-short-length", setU32(table, 4, 36), ""},
		{"tpm-log", newLog(uint16(ccel.AlgSHA1), 20, uint16(ccel.AlgSHA256), 32).pad(), ""},
		{"garbage", []byte(strings.Repeat("x", 200)), ""},
		{"empty", nil, ""},
	} {
		if got, ok := ccel.Sniff(tc.in); got != tc.format || ok != (tc.format != "") {
			t.Errorf("%s: Sniff = %q, %v; want %q", tc.name, got, ok, tc.format)
		}
	}
}

func TestParseACPITableMalformed(t *testing.T) {
	table := make([]byte, 56)
	copy(table, "CCEL")
	binary.LittleEndian.PutUint32(table[4:], 56)
	table[36] = byte(ccel.CCTypeTDX)
	var sum byte
	for _, c := range table {
		sum += c
	}
	table[9] = -sum
	if tb, err := ccel.ParseACPITable(table); err != nil || !tb.ChecksumOK || tb.CCType != ccel.CCTypeTDX {
		t.Fatalf("ParseACPITable = %+v, %v", tb, err)
	}
	bad := bytes.Clone(table)
	bad[40] ^= 1
	if tb, err := ccel.ParseACPITable(bad); err != nil || tb.ChecksumOK {
		t.Errorf("a wrong checksum: %+v, %v; want parsed with ChecksumOK false", tb, err)
	}
	for name, in := range map[string][]byte{
		"short":          table[:55],
		"signature":      append([]byte("FACP"), table[4:]...),
		"length-too-big": setU32(table, 4, 57),
		"length-small":   setU32(table, 4, 36),
		"trailing-bytes": append(bytes.Clone(table), 0),
	} {
		if _, err := ccel.ParseACPITable(in); !errors.Is(err, ccel.ErrMalformed) {
			t.Errorf("%s: ParseACPITable = %v, want ErrMalformed", name, err)
		}
	}
}
