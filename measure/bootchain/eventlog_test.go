package bootchain

import (
	"crypto"
	"encoding/hex"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// The tests read corpus logs with the repository's parsers, as
// internal/cli does (measure packages themselves import only the
// standard library).

func fromTCG(l *tcg.Log) *Log {
	out := &Log{Format: "tcg", Banks: l.Banks(), Events: make([]Event, len(l.Events)), Start: l.InitialValue}
	for i := range l.Events {
		e := &l.Events[i]
		reg := e.PCR
		if !e.Extends() {
			reg = -1
		}
		out.Events[i] = Event{Num: e.Num, Register: reg, Type: e.Type, Data: e.Data, Digests: e.Digests}
	}
	return out
}

func fromCCEL(l *ccel.Log) *Log {
	out := &Log{Format: "ccel", Banks: []crypto.Hash{crypto.SHA384}, Events: make([]Event, len(l.Events))}
	for i := range l.Events {
		e := &l.Events[i]
		reg, ok := e.RTMR()
		if !ok || e.Type == ccel.EvNoAction {
			reg = -1
		}
		out.Events[i] = Event{Num: e.Num, Register: reg, Type: uint32(e.Type), Data: e.Data, Digests: map[crypto.Hash][]byte{crypto.SHA384: e.Digest(ccel.AlgSHA384)}}
	}
	return out
}

// sameAsReplay checks a prediction with nothing replaced against the
// parsers' own replay, register by register.
func sameAsTCGReplay(t *testing.T, l *tcg.Log, p *Prediction) {
	t.Helper()
	got := values(p)
	n := 0
	for _, h := range l.Banks() {
		for pcr, v := range l.Replay(h) {
			if pcr >= 17 && pcr <= 22 {
				continue // tcg starts these at zero only when extended
			}
			k := bankName(h) + "/pcr" + itoa(pcr)
			if got[k] != hex.EncodeToString(v) {
				t.Errorf("%s: predicted %s, tcg.Replay %x", k, got[k], v)
			}
			n++
		}
	}
	if n == 0 {
		t.Error("no register compared")
	}
}

func sameAsCCELReplay(t *testing.T, l *ccel.Log, p *Prediction) {
	t.Helper()
	got := values(p)
	for i, v := range l.Replay() {
		if k := "sha384/rtmr" + itoa(i); got[k] != hex.EncodeToString(v[:]) && (got[k] != "" || v != [48]byte{}) {
			t.Errorf("%s: predicted %s, ccel.Replay %x", k, got[k], v)
		}
	}
}
