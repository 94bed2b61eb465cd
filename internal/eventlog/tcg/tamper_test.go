package tcg_test

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// digestOffset returns where the value of event e's digest in bank
// starts in the log, or -1.
func digestOffset(l *tcg.Log, e tcg.Event, bank crypto.Hash) int {
	if l.Format == tcg.FormatSHA1 {
		if bank != crypto.SHA1 {
			return -1
		}
		return e.Offset + 8 // pcrIndex, eventType
	}
	off := e.Offset + 12 // pcrIndex, eventType, digests.count
	for _, d := range e.DigestValues {
		off += 2 // hashAlg
		if d.Alg.Hash() == bank {
			return off
		}
		off += len(d.Value)
	}
	return -1
}

// dataVerifiedTypes are the event types whose digest Compare expects to
// be the hash of the data (PCRMismatch.Suspects).
var dataVerifiedTypes = map[uint32]bool{tcg.EvSeparator: true, tcg.EvAction: true, tcg.EvEFIAction: true, tcg.EvEFIVariableDriverConfig: true}

// TestCorpusTamper flips one byte of the digest of every replayed event
// of every corpus log, in every bank with expected values: Compare must
// fail on exactly that event's PCR, name a divergence at or before the
// flipped event, and, for an event whose digest was the hash of its data,
// name it as the suspect.
func TestCorpusTamper(t *testing.T) {
	dir, logs := corpusLogs(t)
	flips := 0
	for _, cl := range logs {
		b, err := os.ReadFile(filepath.Join(dir, cl.path))
		if err != nil {
			t.Fatal(err)
		}
		l, err := tcg.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		banks := bankValues{}
		for _, src := range []string{"replayed_by_builder", "tpm2_eventlog", "stated"} {
			for bank, v := range cl.want[src] {
				banks[bank] = v
			}
		}
		for bank, want := range banks {
			for _, e := range l.Events {
				if _, compared := want[e.PCR]; !e.Extends() || !compared {
					continue
				}
				off := digestOffset(l, e, bank)
				if off < 0 {
					t.Fatalf("%s event #%d has no %s digest", cl.path, e.Num, tcg.HashName(bank))
				}
				i := (e.Num * 7) % bank.Size() // a different byte each time
				bad := bytes.Clone(b)
				bad[off+i] ^= 0x80
				tl, err := tcg.Parse(bad)
				if err != nil {
					t.Fatalf("%s event #%d: Parse: %v", cl.path, e.Num, err)
				}
				var me *tcg.MismatchError
				err = tl.Compare(bank, want)
				if !errors.Is(err, tcg.ErrMismatch) || !errors.As(err, &me) {
					t.Fatalf("%s event #%d %s byte %d: Compare = %v", cl.path, e.Num, tcg.HashName(bank), i, err)
				}
				if len(me.Mismatches) != 1 || me.Mismatches[0].PCR != e.PCR {
					t.Fatalf("%s event #%d (PCR%d): mismatches %+v", cl.path, e.Num, e.PCR, me.Mismatches)
				}
				m := me.Mismatches[0]
				if m.Matched != -1 || m.DivergesAt > e.Num || m.DivergesAt < m.First || e.Num > m.Last {
					t.Fatalf("%s event #%d: reported %+v", cl.path, e.Num, m)
				}
				if dataVerifiedTypes[e.Type] && bytes.Equal(sumOf(bank, e.Data), e.Digests[bank]) {
					if len(m.Suspects) != 1 || m.Suspects[0] != e.Num {
						t.Fatalf("%s event #%d (%s): suspects %v", cl.path, e.Num, e.TypeName(), m.Suspects)
					}
				}
				flips++
			}
		}
	}
	t.Logf("%d digests flipped, each caught at its PCR", flips)
}

// TestTamperEveryByte flips every byte of every replayed digest of a small
// seed log, in both banks.
func TestTamperEveryByte(t *testing.T) {
	b, want := seed(t, "swtpm.bin")
	l, err := tcg.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for bank, pcrs := range want {
		if err := l.Compare(bank, pcrs); err != nil {
			t.Fatalf("untampered: %v", err)
		}
		for _, e := range l.Events {
			if !e.Extends() {
				continue
			}
			off := digestOffset(l, e, bank)
			for i := range bank.Size() {
				bad := bytes.Clone(b)
				bad[off+i] ^= 1
				tl, err := tcg.Parse(bad)
				if err != nil {
					t.Fatal(err)
				}
				var me *tcg.MismatchError
				if err := tl.Compare(bank, pcrs); !errors.As(err, &me) || len(me.Mismatches) != 1 || me.Mismatches[0].PCR != e.PCR || me.Mismatches[0].DivergesAt > e.Num {
					t.Fatalf("event #%d byte %d: %v", e.Num, i, err)
				}
			}
		}
	}
}

// TestTamperCases: changes to the log other than a digest.
func TestTamperCases(t *testing.T) {
	b, want := seed(t, "swtpm.bin")
	l, err := tcg.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	sha256PCRs := want[crypto.SHA256]
	lastPCR8 := -1 // the last grub command
	for _, e := range l.Events {
		if e.PCR == 8 {
			lastPCR8 = e.Num
		}
	}
	mism := func(t *testing.T, err error) []tcg.PCRMismatch {
		t.Helper()
		var me *tcg.MismatchError
		if !errors.As(err, &me) {
			t.Fatalf("Compare = %v, want a *MismatchError", err)
		}
		t.Log(err)
		return me.Mismatches
	}
	t.Run("event-type-no-action", func(t *testing.T) {
		// The last grub command stops being extended: PCR 8's replay now
		// stops one event short, and the quote's value is no prefix of it.
		e := l.Events[lastPCR8]
		tl, err := tcg.Parse(setU32(b, e.Offset+4, tcg.EvNoAction))
		if err != nil {
			t.Fatal(err)
		}
		ms := mism(t, tl.Compare(crypto.SHA256, sha256PCRs))
		if len(ms) != 1 || ms[0].PCR != 8 || ms[0].Matched != -1 {
			t.Errorf("mismatches %+v", ms)
		}
	})
	t.Run("pcr-moved", func(t *testing.T) {
		e := l.Events[lastPCR8]
		tl, err := tcg.Parse(setU32(b, e.Offset, 9))
		if err != nil {
			t.Fatal(err)
		}
		ms := mism(t, tl.Compare(crypto.SHA256, sha256PCRs))
		if len(ms) != 2 || ms[0].PCR != 8 || ms[1].PCR != 9 || ms[1].DivergesAt > e.Num {
			t.Errorf("mismatches %+v", ms)
		}
	})
	t.Run("log-ends-before-quote", func(t *testing.T) {
		tl, err := tcg.Parse(b[:l.Events[lastPCR8].Offset])
		if err != nil {
			t.Fatal(err)
		}
		// PCR 8 lost its last event, and every PCR extended after it
		// (grub's files in 9, ExitBootServices in 5) its later ones: no
		// prefix of what is left reaches the quoted values.
		ms := mism(t, tl.Compare(crypto.SHA256, sha256PCRs))
		pcrs := map[int]bool{}
		for _, m := range ms {
			pcrs[m.PCR] = true
			if m.Matched != -1 || m.DivergesAt > lastPCR8 {
				t.Errorf("PCR%d: %+v", m.PCR, m)
			}
		}
		if !pcrs[8] {
			t.Errorf("PCR 8 not among the mismatches %+v", ms)
		}
	})
	t.Run("quote-before-last-event", func(t *testing.T) {
		// The quote was taken before the last PCR 8 event.
		pre, err := tcg.Parse(b[:l.Events[lastPCR8].Offset])
		if err != nil {
			t.Fatal(err)
		}
		ms := mism(t, l.Compare(crypto.SHA256, map[int][]byte{8: pre.Replay(crypto.SHA256)[8]}))
		if len(ms) != 1 || ms[0].PCR != 8 || ms[0].DivergesAt != lastPCR8 || ms[0].Matched != ms[0].Events-1 {
			t.Errorf("mismatches %+v", ms)
		}
	})
}

// TestTamperData changes event data that the replay does not cover: the
// PCRs still match, and the claims stop vouching for the changed data.
func TestTamperData(t *testing.T) {
	b, want := seed(t, "swtpm.bin")
	l, err := tcg.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Claims()
	if c.SecureBoot == nil || *c.SecureBoot || len(c.GrubCommands) == 0 || !c.GrubCommands[0].TextVerified || len(c.KernelCmdline) != 1 || !c.KernelCmdline[0].TextVerified {
		t.Fatalf("untampered claims: secure_boot %v, grub commands %d, cmdline %+v", c.SecureBoot, len(c.GrubCommands), c.KernelCmdline)
	}
	sb := l.Events[c.SecureBootVariables[0].Num]
	cmd := l.Events[c.GrubCommands[0].Num]
	cmdline := l.Events[c.KernelCmdline[0].Num]
	bad := bytes.Clone(b)
	bad[dataOffset(l, sb)+len(sb.Data)-1] = 1 // SecureBoot = 1
	bad[dataOffset(l, cmd)+len("grub_cmd: ")] ^= 0x20
	bad[dataOffset(l, cmdline)+len("kernel_cmdline: ")+1] ^= 0x20
	tl, err := tcg.Parse(bad)
	if err != nil {
		t.Fatal(err)
	}
	for bank, pcrs := range want {
		if err := tl.Compare(bank, pcrs); err != nil {
			t.Fatalf("data is not replayed, Compare = %v", err)
		}
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
	if k := tc.KernelCmdline[0]; k.TextVerified {
		t.Errorf("kernel command line %q still text_verified", k.Text)
	}
}

// dataOffset returns where the data of event e starts in the log.
func dataOffset(l *tcg.Log, e tcg.Event) int {
	if l.Format == tcg.FormatSHA1 || e.Num == 0 {
		return e.Offset + 32
	}
	off := e.Offset + 12
	for _, d := range e.DigestValues {
		off += 2 + len(d.Value)
	}
	return off + 4
}

func sumOf(h crypto.Hash, b []byte) []byte {
	x := h.New()
	x.Write(b)
	return x.Sum(nil)
}
