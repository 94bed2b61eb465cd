package bootchain

import (
	"crypto"
	"fmt"
	"slices"
	"strconv"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/internal/eventlog/uefi"
)

// bootLoaderPCRs are the PCRs a boot loader and the kernel's EFI stub
// extend and the firmware does not (TCG PC Client PFP 1.06 section
// 3.3.4: PCR 4 boot manager code, PCR 8 and 9 for the OS loader, which
// grub uses for commands and files).
var bootLoaderPCRs = []int{4, 8, 9}

// bootLoaderRTMRs are the RTMRs TDVF extends for what PCR 4 and PCRs 8
// and above would get (UEFI 2.10 section 38.4.1, TDX: RTMR1 for PCR 2-6,
// RTMR2 for PCR 8-15).
var bootLoaderRTMRs = []int{1, 2}

// PredictTCG predicts the PCRs of every bank of a TPM event log (the
// crypto-agile format or the SHA-1 one) of a reference boot with c's
// components in place of the logged ones. PCRs 4, 8 and 9 are the
// prediction; the others are the reference log's replay. An event the
// components would rebuild in another PCR is ErrUnsupported.
func PredictTCG(l *tcg.Log, c Components) (*Prediction, error) {
	banks := l.Banks()
	if len(banks) == 0 {
		return nil, fmt.Errorf("%w: the log has no bank Go can compute", ErrUnsupported)
	}
	evs := make([]logEvent, len(l.Events))
	for i := range l.Events {
		e := &l.Events[i]
		reg := -1
		if e.Extends() {
			reg = e.PCR
		}
		evs[i] = logEvent{num: e.Num, reg: reg, typ: e.Type, data: e.Data, digests: e.Digests}
	}
	r, err := rebuild(evs, banks, c, "pcr")
	if err != nil {
		return nil, err
	}
	next := *l
	next.Events = slices.Clone(l.Events)
	for _, ch := range r.changes {
		e := &next.Events[ch.i]
		e.Digests = ch.digests
		e.DigestValues = nil
		for _, h := range banks {
			e.DigestValues = append(e.DigestValues, tcg.Digest{Alg: uefi.AlgOf(h), Value: ch.digests[h]})
		}
		if ch.data != nil {
			e.Data = ch.data
		}
	}
	p := &Prediction{Format: "tcg"}
	for _, h := range banks {
		before, after := l.Replay(h), next.Replay(h)
		pcrs := make([]int, 0, len(after))
		for n := range after {
			pcrs = append(pcrs, n)
		}
		slices.Sort(pcrs)
		for _, n := range pcrs {
			p.Registers = append(p.Registers, register(fmt.Sprintf("pcr%d", n), n, uefi.AlgOf(h).String(), after[n], before[n], slices.Contains(bootLoaderPCRs, n)))
		}
	}
	if err := p.rebuilt(r, func(i int) string { return tcg.EventTypeName(l.Events[i].Type) }, bootLoaderPCRs); err != nil {
		return nil, err
	}
	return p, nil
}

// PredictCCEL predicts RTMR0..3 of a TDX CC event log of a reference
// boot with c's components in place of the logged ones. RTMR1 and RTMR2
// are the prediction; RTMR0 (firmware) and RTMR3 (run time) are the
// reference log's replay. The log needs a SHA-384 bank.
func PredictCCEL(l *ccel.Log, c Components) (*Prediction, error) {
	if !l.HasBank(ccel.AlgSHA384) {
		return nil, fmt.Errorf("%w: the log has no SHA-384 bank (banks %v)", ErrUnsupported, l.Banks())
	}
	banks := []crypto.Hash{crypto.SHA384}
	evs := make([]logEvent, len(l.Events))
	for i := range l.Events {
		e := &l.Events[i]
		reg := -1
		if n, ok := e.RTMR(); ok && e.Type != ccel.EvNoAction {
			reg = n
		}
		evs[i] = logEvent{num: e.Num, reg: reg, typ: uint32(e.Type), data: e.Data, digests: map[crypto.Hash][]byte{crypto.SHA384: e.Digest(ccel.AlgSHA384)}}
	}
	r, err := rebuild(evs, banks, c, "rtmr")
	if err != nil {
		return nil, err
	}
	next := *l
	next.Events = slices.Clone(l.Events)
	for _, ch := range r.changes {
		e := &next.Events[ch.i]
		e.Digests = []ccel.Digest{{Alg: ccel.AlgSHA384, Value: ch.digests[crypto.SHA384]}}
		if ch.data != nil {
			e.Data = ch.data
		}
	}
	before, after := l.Replay(), next.Replay()
	p := &Prediction{Format: "ccel"}
	for n := range after {
		p.Registers = append(p.Registers, register(fmt.Sprintf("rtmr%d", n), n, "sha384", after[n][:], before[n][:], slices.Contains(bootLoaderRTMRs, n)))
	}
	if err := p.rebuilt(r, func(i int) string { return l.Events[i].Type.String() }, bootLoaderRTMRs); err != nil {
		return nil, err
	}
	return p, nil
}

// rebuild works out the events c changes in a log; registers are named
// prefix and their index.
func rebuild(evs []logEvent, banks []crypto.Hash, c Components, prefix string) (*rebuilder, error) {
	r := &rebuilder{evs: evs, banks: banks, c: c, regName: func(n int) string { return prefix + strconv.Itoa(n) }}
	return r, r.run()
}

func register(name string, n int, bank string, after, before []byte, predicted bool) Register {
	from := "reference_log"
	if predicted {
		from = "prediction"
	}
	return Register{Name: name, Index: n, Bank: bank, Value: after, From: from, Changed: !slices.Equal(after, before)}
}

// rebuilt lists the changes, and refuses one in a register the
// prediction copies from the reference log.
func (p *Prediction) rebuilt(r *rebuilder, typeName func(int) string, predicted []int) error {
	for _, ch := range r.changes {
		e := &r.evs[ch.i]
		if !slices.Contains(predicted, e.reg) {
			return fmt.Errorf("%w: event #%d rebuilt from %s extends %s, which is not a boot-loader register", ErrUnsupported, e.num, ch.component, r.regName(e.reg))
		}
		p.Rebuilt = append(p.Rebuilt, Rebuilt{Num: e.num, Register: r.regName(e.reg), Type: typeName(ch.i), Component: ch.component, Text: ch.text, Changed: ch.changedFromLog})
	}
	return nil
}
