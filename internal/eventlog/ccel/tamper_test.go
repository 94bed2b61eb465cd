package ccel_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
)

// RTMRs of the two log seeds in testdata (see testdata/README.md). The
// sources state none; these are the corpus builder's replay
// (manifest.json, replayed_by_builder), which TestSeedRTMRs checks
// against ours and TestCorpusReplay checks again from the corpus.
var seedRTMRs = map[string][4]string{
	"intel-CCEL_unpadded.data.bin": {
		"8083cd6898cc52a90231cdf9c0532bf9513c40465c6f71e56cbe32ee2c11a9dfc030297ca3ca0f62477d6d1f610d3fdb",
		"6484f0d72c03521c0434553be34e8db8228b729e799666d2b7754085c77aa9981f5a440df3047194b24f212ff1160c1e",
		"c3e7ed9d7e909b29732f676d01dc63de869b049362b522a315cb042689670be07344c347cf85d985c7b928d4934e41e1",
		"",
	},
	"CCEL_AAEL_alibabacloud.bin": {
		"b796e1c11396c198ae88794def4cb8e24fa9b35468287c298087f00d4de7433e4e31a297a4e5a03d4300fa6f3a96d47c",
		"3b0b906140fcea689c8774ac1eafcf0fef8e22ba81a047fd750ebd7df3235c2704df6106a758e31e5645e9838ff37406",
		"35f2801338c1b5fce96518f058c37e0fe9ed247a12dcd5f50d9c18fe4b6c71311bb63fca2640c7915817b6aa412a8480",
		"5e4ecd49d3c7983d6f9ca36755b5cee0b423d7fa8c5a88aeb0681bd4698772bc37b4463dc5f722efe352a66417257dad",
	},
}

func seed(t testing.TB, name string) ([]byte, [4][48]byte) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var want [4][48]byte
	for i, h := range seedRTMRs[name] {
		if h == "" {
			continue
		}
		v, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		copy(want[i][:], v)
	}
	return b, want
}

func TestSeedRTMRs(t *testing.T) {
	for name := range seedRTMRs {
		b, want := seed(t, name)
		l, err := ccel.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := l.Compare(want); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// digestOffset returns where the SHA-384 value of event e starts in the
// log (each seed event carries exactly one digest).
func digestOffset(t *testing.T, e ccel.Event) int {
	t.Helper()
	if len(e.Digests) != 1 || e.Digests[0].Alg != ccel.AlgSHA384 {
		t.Fatalf("event #%d: digests %v, want one SHA-384", e.Num, e.Digests)
	}
	return e.Offset + 12 + 2 // MR index, type, count; algorithm ID
}

func mismatch(t *testing.T, err error) []ccel.RTMRMismatch {
	t.Helper()
	var me *ccel.MismatchError
	if !errors.Is(err, ccel.ErrMismatch) || !errors.As(err, &me) {
		t.Fatalf("Compare = %v, want a *MismatchError", err)
	}
	return me.Mismatches
}

// TestTamperDigests flips every byte of every extended event's SHA-384
// digest: the replay must fail on exactly that event's RTMR, and the
// divergence it reports must not be after the flipped event.
func TestTamperDigests(t *testing.T) {
	for name := range seedRTMRs {
		b, want := seed(t, name)
		l, err := ccel.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Events {
			rtmr, ok := e.RTMR()
			if !ok || e.Type == ccel.EvNoAction {
				continue
			}
			off := digestOffset(t, e)
			for i := range 48 {
				bad := bytes.Clone(b)
				bad[off+i] ^= 0x01
				tl, err := ccel.Parse(bad)
				if err != nil {
					t.Fatalf("%s event #%d byte %d: Parse: %v", name, e.Num, i, err)
				}
				ms := mismatch(t, tl.Compare(want))
				if len(ms) != 1 || ms[0].RTMR != rtmr {
					t.Fatalf("%s event #%d (RTMR%d) byte %d: mismatches %+v", name, e.Num, rtmr, i, ms)
				}
				m := ms[0]
				if m.PrefixThrough != -1 || m.DivergesAt > e.Num || e.Num > m.Last || m.DivergesAt < m.First {
					t.Fatalf("%s event #%d: reported %+v", name, e.Num, m)
				}
			}
		}
	}
}

func TestTamperCases(t *testing.T) {
	aael, aaelWant := seed(t, "CCEL_AAEL_alibabacloud.bin")
	intel, intelWant := seed(t, "intel-CCEL_unpadded.data.bin")
	parse := func(b []byte) *ccel.Log {
		l, err := ccel.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	aaelLog := parse(aael)
	last := aaelLog.Events[len(aaelLog.Events)-1] // #87, AAEL, RTMR3

	for _, tc := range []struct {
		name  string
		log   []byte
		want  [4][48]byte
		check func(t *testing.T, err error)
	}{
		{
			name: "event-type-no-action", // the first RTMR3 event stops being extended
			log:  setU32(aael, aaelLog.Events[85].Offset+4, uint32(ccel.EvNoAction)),
			want: aaelWant,
			check: func(t *testing.T, err error) {
				ms := mismatch(t, err)
				if len(ms) != 1 || ms[0].RTMR != 3 || ms[0].DivergesAt != 87 {
					t.Errorf("mismatches %+v, want RTMR3 from #87 (the only event left)", ms)
				}
			},
		},
		{
			name: "mr-index-moved", // event #1 moves from RTMR0 to RTMR1
			log:  setU32(aael, aaelLog.Events[0].Offset, 2),
			want: aaelWant,
			check: func(t *testing.T, err error) {
				ms := mismatch(t, err)
				if len(ms) != 2 || ms[0].RTMR != 0 || ms[1].RTMR != 1 || ms[1].DivergesAt != 1 {
					t.Errorf("mismatches %+v, want RTMR0 and RTMR1 (from #1)", ms)
				}
			},
		},
		{
			name: "last-event-cut", // the quote saw #87, the log ends before it
			log:  aael[:last.Offset],
			want: aaelWant,
			check: func(t *testing.T, err error) {
				ms := mismatch(t, err)
				if len(ms) != 1 || ms[0].RTMR != 3 || ms[0].PrefixThrough != -1 || ms[0].DivergesAt != 86 || ms[0].Last != 86 {
					t.Errorf("mismatches %+v, want RTMR3 at or after #86", ms)
				}
			},
		},
		{
			name: "event-appended", // the log has an RTMR3 event the quote did not see
			log:  append(bytes.Clone(aael[:aaelLog.Length]), aael[last.Offset:aaelLog.Length]...),
			want: aaelWant,
			check: func(t *testing.T, err error) {
				ms := mismatch(t, err)
				if len(ms) != 1 || ms[0].RTMR != 3 || ms[0].PrefixThrough != 87 || ms[0].DivergesAt != 88 {
					t.Errorf("mismatches %+v, want RTMR3 matching through #87, diverging at #88", ms)
				}
			},
		},
		{
			name: "quote-rtmr3-zero", // none of the RTMR3 events reached the register
			log:  aael,
			want: [4][48]byte{aaelWant[0], aaelWant[1], aaelWant[2]},
			check: func(t *testing.T, err error) {
				ms := mismatch(t, err)
				if len(ms) != 1 || ms[0].RTMR != 3 || ms[0].PrefixThrough != 0 || ms[0].DivergesAt != 86 {
					t.Errorf("mismatches %+v, want RTMR3 diverging at its first event #86", ms)
				}
			},
		},
		{
			name: "events-missing-from-log", // RTMR3 extended, the log has no RTMR3 event
			log:  intel,
			want: [4][48]byte{intelWant[0], intelWant[1], intelWant[2], aaelWant[3]},
			check: func(t *testing.T, err error) {
				ms := mismatch(t, err)
				if len(ms) != 1 || ms[0].RTMR != 3 || ms[0].Events != 0 || ms[0].DivergesAt != 0 {
					t.Errorf("mismatches %+v, want RTMR3 with no events", ms)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := parse(tc.log)
			err := l.Compare(tc.want)
			tc.check(t, err)
			t.Log(err)
		})
	}
}

// TestTamperData changes event data that the replay does not cover: the
// RTMRs still match, and the claims stop vouching for the changed data.
func TestTamperData(t *testing.T) {
	b, want := seed(t, "CCEL_AAEL_alibabacloud.bin")
	l, err := ccel.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Claims()
	if c.SecureBoot == nil || *c.SecureBoot || len(c.GrubCommands) == 0 || !c.GrubCommands[0].TextVerified {
		t.Fatalf("untampered claims: secure_boot %v, grub commands %+v", c.SecureBoot, c.GrubCommands)
	}
	sb := l.Events[2] // #3, the SecureBoot variable, data 0x00
	cmd := l.Events[c.GrubCommands[0].Num-1]
	bad := bytes.Clone(b)
	bad[dataOffset(sb)+len(sb.Data)-1] = 1 // SecureBoot = 1
	bad[dataOffset(cmd)+len("grub_cmd ")] ^= 0x20
	tl, err := ccel.Parse(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Compare(want); err != nil {
		t.Fatalf("data is not replayed, Compare = %v", err)
	}
	tc := tl.Claims()
	if tc.SecureBoot != nil {
		t.Errorf("secure_boot = %v from a variable whose digest no longer matches", *tc.SecureBoot)
	}
	if v := tc.SecureBootVariables[0]; v.Name != "SecureBoot" || v.DataVerified || v.Enabled == nil || !*v.Enabled {
		t.Errorf("SecureBoot variable claim %+v, want enabled but not data_verified", v)
	}
	if g := tc.GrubCommands[0]; g.TextVerified {
		t.Errorf("grub command %q still text_verified", g.Text)
	}
}

// dataOffset returns where the data of event e starts in the log.
func dataOffset(e ccel.Event) int {
	off := e.Offset + 12
	for _, d := range e.Digests {
		off += 2 + len(d.Value)
	}
	return off + 4
}

func setU32(b []byte, off int, v uint32) []byte {
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint32(b[off:], v)
	return b
}
