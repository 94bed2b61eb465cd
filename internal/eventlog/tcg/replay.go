package tcg

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // registers the banks Replay computes
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"
	"fmt"
	"slices"
	"strings"
)

// startupLocalitySignature opens the data of the EV_NO_ACTION event that
// gives the locality of TPM2_Startup (PFP 1.06 section 10.4.5.3,
// TCG_EfiStartupLocalityEvent: Signature[16], StartupLocality).
const startupLocalitySignature = "StartupLocality\x00"

// StartupLocality returns the locality of the StartupLocality
// EV_NO_ACTION event in PCR 0 that precedes every PCR 0 measurement, and
// whether there is one. PFP 1.06 section 10.4.5.3: PCR 0 then starts at
// that value in its last byte instead of zero (3 for a TPM2_Startup from
// locality 3, 4 after an H-CRTM sequence).
func (l *Log) StartupLocality() (byte, bool) {
	for i := range l.Events {
		e := &l.Events[i]
		if e.PCR != 0 {
			continue
		}
		if e.Type != EvNoAction {
			return 0, false
		}
		if len(e.Data) == len(startupLocalitySignature)+1 && string(e.Data[:16]) == startupLocalitySignature {
			return e.Data[16], true
		}
	}
	return 0, false
}

// InitialValue returns what PCR pcr holds in bank when no event of the
// log extends it: zero, except PCR 0 after a StartupLocality event (its
// locality in the last byte) and PCRs 17 to 22, which TPM2_Startup sets
// to all ones (PTP 1.05 section 4.6.2, "PCR Attributes").
func (l *Log) InitialValue(bank crypto.Hash, pcr int) []byte {
	if pcr >= 17 && pcr <= 22 {
		return bytes.Repeat([]byte{0xff}, bank.Size())
	}
	return l.startValue(bank, pcr)
}

// startValue returns the value a PCR's replay starts from: zero, PCR 0
// at its startup locality, and PCRs 17 to 22 at zero too, since a log
// that extends them records a dynamic launch, which resets them to zero
// first (PTP 1.05 section 4.6.2).
func (l *Log) startValue(bank crypto.Hash, pcr int) []byte {
	v := make([]byte, bank.Size())
	if pcr == 0 {
		if loc, ok := l.StartupLocality(); ok && len(v) > 0 {
			v[len(v)-1] = loc
		}
	}
	return v
}

// step is one extension of a PCR: the event and the value after it.
type step struct {
	num   int
	value []byte
}

// pcrReplay is the replay of one PCR in one bank.
type pcrReplay struct {
	steps []step
	// missing is the Num of the first event that extends this PCR but
	// has no digest in the bank (the replay stops there), or -1.
	missing int
}

func (r *pcrReplay) value(init []byte) []byte {
	if len(r.steps) == 0 {
		return init
	}
	return r.steps[len(r.steps)-1].value
}

// replay extends every PCR of the log in bank: PCR = H(PCR || digest)
// for each event that Extends, in log order (TPM 2.0 Part 1 section
// 17.2, TPM2_PCR_Extend).
func (l *Log) replay(bank crypto.Hash) map[int]*pcrReplay {
	out := map[int]*pcrReplay{}
	if !l.HasBank(bank) || !bank.Available() {
		return out
	}
	h := bank.New()
	for i := range l.Events {
		e := &l.Events[i]
		if !e.Extends() {
			continue
		}
		r := out[e.PCR]
		if r == nil {
			r = &pcrReplay{missing: -1}
			out[e.PCR] = r
		}
		if r.missing >= 0 {
			continue
		}
		d, ok := e.Digests[bank]
		if !ok || len(d) != bank.Size() {
			r.missing = e.Num
			continue
		}
		h.Reset()
		if len(r.steps) == 0 {
			h.Write(l.startValue(bank, e.PCR))
		} else {
			h.Write(r.steps[len(r.steps)-1].value)
		}
		h.Write(d)
		r.steps = append(r.steps, step{e.Num, h.Sum(nil)})
	}
	return out
}

// Replay returns the PCR values the log produces in bank: for every PCR
// that an event Extends, its value after the log's last event, starting
// from zero (PCR 0 from its startup locality); and PCR 0 at that
// locality when a StartupLocality event is all the log has for it.
// EV_NO_ACTION events
// and PCR indexes outside 0..23 are not replayed. A PCR with an event
// that lacks a digest in bank is left out (Compare names the event); so
// is every PCR when the log has no such bank (a SHA-1-format log has only
// SHA-1).
func (l *Log) Replay(bank crypto.Hash) map[int][]byte {
	out := map[int][]byte{}
	if !l.HasBank(bank) || !bank.Available() {
		return out
	}
	rs := l.replay(bank)
	for pcr, r := range rs {
		if r.missing < 0 {
			out[pcr] = r.value(nil)
		}
	}
	if _, ok := l.StartupLocality(); ok && rs[0] == nil {
		out[0] = l.InitialValue(bank, 0)
	}
	return out
}

// PCRMismatch describes one PCR whose replay differs from the expected
// value, and how far the log can be trusted for it.
type PCRMismatch struct {
	PCR int
	// Register is "" for a PCR of a TCG event log; a CEL's mismatches
	// name their register kind ("PCR", "CCMR", "NV").
	Register string
	Bank     crypto.Hash
	Got      []byte // the log's replay
	Want     []byte // the expected value (from the quote)
	// Events is how many events of the log extend this PCR; First and
	// Last are the Num of the first and last of them (-1 when there are
	// none).
	Events, First, Last int
	// Matched is the number of this PCR's events whose replay gives Want:
	// 0 when Want is the value the replay starts from, -1 when no prefix
	// of them does.
	Matched int
	// DivergesAt is the Num of the first event from which the replay can
	// no longer reach Want: the event after the matching prefix, or the
	// PCR's first event when no prefix matches (the difference may be at
	// that event or at any later one). -1 when the log has no event for
	// this PCR.
	DivergesAt int
	// Suspects are events of this PCR whose type says their digest is
	// the hash of their data (EV_SEPARATOR, EV_ACTION, EV_EFI_ACTION,
	// EV_EFI_VARIABLE_DRIVER_CONFIG; PFP 1.06 section 10.4.4) but whose
	// digest in this bank is not: likely the altered ones. A hint only;
	// firmware does not always follow the rule, and an altered digest of
	// any other event leaves no such trace.
	Suspects []int
}

func (m PCRMismatch) String() string {
	reg := m.Register
	if reg == "" {
		reg = "PCR"
	}
	s := fmt.Sprintf("%s%d (%s): replay gives %x, expected %x", reg, m.PCR, HashName(m.Bank), m.Got, m.Want)
	switch {
	case len(m.Got) != len(m.Want):
		s += fmt.Sprintf("; the expected value is %d bytes, a %s PCR has %d", len(m.Want), HashName(m.Bank), len(m.Got))
	case m.Events == 0:
		s += fmt.Sprintf("; the log has no event for %s%d: the register was extended by events absent from the log", reg, m.PCR)
	case m.Matched == 0:
		s += fmt.Sprintf("; replay diverges at event #%d: the expected value is the initial value, so none of %s%d's %d events (#%d..#%d) reached the register", m.DivergesAt, reg, m.PCR, m.Events, m.First, m.Last)
	case m.Matched > 0:
		s += fmt.Sprintf("; replay diverges at event #%d: the expected value is the replay of %s%d's first %d events, so the register did not see %s", m.DivergesAt, reg, m.PCR, m.Matched, eventRange(m.DivergesAt, m.Last))
	default:
		s += fmt.Sprintf("; replay diverges at or after event #%d (%s%d's %d events are #%d..#%d and no prefix of them gives the expected value: an event was altered, removed or inserted, or the register was extended outside the log)", m.DivergesAt, reg, m.PCR, m.Events, m.First, m.Last)
	}
	if len(m.Suspects) > 0 {
		n := make([]string, len(m.Suspects))
		for i, x := range m.Suspects {
			n[i] = fmt.Sprintf("#%d", x)
		}
		s += fmt.Sprintf("; the digest of event %s is not the hash of its data", strings.Join(n, ", "))
	}
	return s
}

// eventRange names events first..last.
func eventRange(first, last int) string {
	if first == last {
		return fmt.Sprintf("event #%d", first)
	}
	return fmt.Sprintf("events #%d..#%d", first, last)
}

// MismatchError is returned by Compare when replay does not reproduce the
// expected PCRs; it wraps ErrMismatch and lists every PCR that differs,
// in PCR order.
type MismatchError struct {
	Mismatches []PCRMismatch
}

func (e *MismatchError) Error() string {
	parts := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		parts[i] = m.String()
	}
	return ErrMismatch.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrMismatch) hold.
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Compare replays the log in bank and compares the result with pcrs
// (PCR index -> value, as quoted by a verified TPM; only the PCRs given
// are compared, a PCR the log does not extend against its InitialValue).
// It returns nil when all match; a *MismatchError (ErrMismatch) naming
// each PCR that differs and the event from which its replay diverges;
// ErrUnsupported when the log has no digests in bank or a PCR index is
// not 0..23; ErrMalformed when an event that extends a compared PCR lacks
// its digest in bank.
//
// Give only the PCRs the firmware log accounts for: PCR 10 of a Linux
// host, say, is IMA's (IMALog), and compared here it is a mismatch with
// no event.
//
// The log may not end where the quote was taken: events logged after the
// quote show up as a matching prefix (PCRMismatch.Matched), extensions
// that never reached the log as no matching prefix.
func (l *Log) Compare(bank crypto.Hash, pcrs map[int][]byte) error {
	if !l.HasBank(bank) || !bank.Available() {
		return fmt.Errorf("%w: the log's banks are %s, not %s", ErrUnsupported, strings.Join(l.bankNames(), ","), HashName(bank))
	}
	idx := make([]int, 0, len(pcrs))
	for p := range pcrs {
		if p < 0 || p >= NumPCRs {
			return fmt.Errorf("%w: PCR %d: a PC Client TPM has PCRs 0..%d", ErrUnsupported, p, NumPCRs-1)
		}
		idx = append(idx, p)
	}
	slices.Sort(idx)
	rs := l.replay(bank)
	var me MismatchError
	for _, p := range idx {
		want := pcrs[p]
		init := l.InitialValue(bank, p)
		r := rs[p]
		if r == nil {
			r = &pcrReplay{missing: -1}
		}
		if r.missing >= 0 {
			e := &l.Events[r.missing]
			return fmt.Errorf("%w: event #%d (%s, PCR%d) has no %s digest", ErrMalformed, e.Num, e.TypeName(), e.PCR, HashName(bank))
		}
		got := r.value(init)
		if bytes.Equal(got, want) {
			continue
		}
		m := PCRMismatch{PCR: p, Bank: bank, Got: got, Want: bytes.Clone(want), Events: len(r.steps), First: -1, Last: -1, Matched: -1, DivergesAt: -1}
		if m.Events > 0 {
			m.First, m.Last = r.steps[0].num, r.steps[m.Events-1].num
			m.DivergesAt = m.First
			if bytes.Equal(want, l.startValue(bank, p)) {
				m.Matched = 0
			}
			for i, s := range r.steps[:m.Events-1] {
				if bytes.Equal(s.value, want) {
					m.Matched = i + 1
					m.DivergesAt = r.steps[i+1].num
				}
			}
			m.Suspects = l.suspects(bank, r.steps)
		}
		me.Mismatches = append(me.Mismatches, m)
	}
	if len(me.Mismatches) > 0 {
		return &me
	}
	return nil
}

// suspects returns the events among steps whose digest in bank should be,
// and is not, the hash of their data.
func (l *Log) suspects(bank crypto.Hash, steps []step) []int {
	var out []int
	for _, s := range steps {
		e := &l.Events[s.num]
		switch e.Type {
		case EvSeparator, EvAction, EvEFIAction, EvEFIVariableDriverConfig:
		default:
			continue
		}
		h := bank.New()
		h.Write(e.Data)
		if !bytes.Equal(h.Sum(nil), e.Digests[bank]) {
			out = append(out, e.Num)
		}
	}
	return out
}
