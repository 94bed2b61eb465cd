package ccel

import (
	"fmt"
	"strings"
)

// Replay returns RTMR0..3 as the log's events extend them: each starts at
// 48 zero bytes and every event with MR index 1..4 that is not
// EV_NO_ACTION extends RTMR[index-1] = SHA-384(RTMR || SHA-384 digest).
// MR index 0 (MRTD) is measured by the TDX module, not by these events.
// An event without a SHA-384 digest is skipped; Compare refuses such logs.
func (l *Log) Replay() [4][48]byte {
	var r [4][48]byte
	for i := range l.Events {
		e := &l.Events[i]
		n, ok := e.RTMR()
		d := e.Digest(AlgSHA384)
		if !ok || e.Type == EvNoAction || len(d) != 48 {
			continue
		}
		r[n] = sha384(r[n][:], d)
	}
	return r
}

// RTMRMismatch describes one RTMR whose replay differs from the expected
// value, and how far the log can be trusted for it.
type RTMRMismatch struct {
	RTMR int      // 0..3
	Got  [48]byte // the log's replay
	Want [48]byte // the expected value (from the quote)
	// Events is how many events of the log extend this RTMR; First and
	// Last are the first and last of them (0 when there are none).
	Events, First, Last int
	// PrefixThrough is set when the expected value is the replay of a
	// prefix of this RTMR's events: the number of the last event of that
	// prefix, or 0 when the expected value is the initial zero value.
	// It is -1 when no prefix matches.
	PrefixThrough int
	// DivergesAt is the first event from which the replay can no longer
	// reach the expected value: the event after the matching prefix, or
	// the RTMR's first event when no prefix matches (the difference may
	// be at that event or at any later one). 0 when the log has no event
	// for this RTMR.
	DivergesAt int
}

func (m RTMRMismatch) String() string {
	s := fmt.Sprintf("RTMR%d: replay gives %x, expected %x", m.RTMR, m.Got[:], m.Want[:])
	switch {
	case m.Events == 0:
		return s + fmt.Sprintf("; the log has no event for RTMR%d: the register was extended by events absent from the log", m.RTMR)
	case m.PrefixThrough == 0:
		return s + fmt.Sprintf("; replay diverges at event #%d: the expected value is the initial zero, so none of RTMR%d's %d events (#%d..#%d) reached the register", m.DivergesAt, m.RTMR, m.Events, m.First, m.Last)
	case m.PrefixThrough > 0:
		return s + fmt.Sprintf("; replay diverges at event #%d: the expected value is the replay through event #%d, so the register did not see RTMR%d's events #%d..#%d", m.DivergesAt, m.PrefixThrough, m.RTMR, m.DivergesAt, m.Last)
	}
	return s + fmt.Sprintf("; replay diverges at or after event #%d (RTMR%d's %d events are #%d..#%d and no prefix of them gives the expected value: an event was altered, removed or inserted, or the register was extended outside the log)", m.DivergesAt, m.RTMR, m.Events, m.First, m.Last)
}

// MismatchError is returned by Compare when replay does not reproduce the
// expected RTMRs; it wraps ErrMismatch and lists every RTMR that differs.
type MismatchError struct {
	Mismatches []RTMRMismatch
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

// Compare replays the log and compares RTMR0..3 with want (the RTMRs of a
// verified TD quote). It returns nil when all four match; a
// *MismatchError (ErrMismatch) naming each RTMR that differs and the
// event from which its replay diverges; ErrUnsupported when the log has
// no SHA-384 bank; ErrMalformed when an event that extends an RTMR lacks
// its SHA-384 digest.
//
// The log may not end where the quote was taken: events logged after the
// quote show up as a matching prefix (RTMRMismatch.PrefixThrough), and
// extensions that never reached the log (RTMR3 written at run time by a
// tool that logs elsewhere) as no matching prefix.
func (l *Log) Compare(want [4][48]byte) error {
	if !l.HasBank(AlgSHA384) {
		return fmt.Errorf("%w: the log's banks are %s, TDX RTMRs need sha384", ErrUnsupported, strings.Join(l.Banks(), ","))
	}
	type step struct {
		num   int
		value [48]byte
	}
	var trace [4][]step
	var cur [4][48]byte
	for i := range l.Events {
		e := &l.Events[i]
		if !e.extends() {
			continue
		}
		n, _ := e.RTMR()
		d := e.Digest(AlgSHA384)
		if len(d) != 48 {
			return fmt.Errorf("%w: event #%d (%s, RTMR%d) has no SHA-384 digest", ErrMalformed, e.Num, e.Type, n)
		}
		cur[n] = sha384(cur[n][:], d)
		trace[n] = append(trace[n], step{e.Num, cur[n]})
	}
	var me MismatchError
	for n := range want {
		if cur[n] == want[n] {
			continue
		}
		m := RTMRMismatch{RTMR: n, Got: cur[n], Want: want[n], Events: len(trace[n]), PrefixThrough: -1}
		if m.Events > 0 {
			m.First, m.Last = trace[n][0].num, trace[n][m.Events-1].num
			m.DivergesAt = m.First
			if want[n] == ([48]byte{}) {
				m.PrefixThrough = 0
			}
			for i, s := range trace[n][:m.Events-1] {
				if s.value == want[n] {
					m.PrefixThrough = s.num
					m.DivergesAt = trace[n][i+1].num
				}
			}
		}
		me.Mismatches = append(me.Mismatches, m)
	}
	if len(me.Mismatches) > 0 {
		return &me
	}
	return nil
}
