package azcvm

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/verifier/tpm"
)

// The vTPM's event log is the TCG PC Client firmware log of the guest's
// UEFI firmware and boot loaders (PFP 1.06 section 10; on Linux
// /sys/kernel/security/tpm0/binary_bios_measurements, on Windows the
// MeasuredBoot logs). Replaying it against the quoted SHA-256 PCRs says
// which boot events produced them; its decoded events (Secure Boot state
// and variables, boot applications, kernel command line) become claims.

// lastFirmwarePCR: firmware logs every extension of PCRs 0-7 (PFP 1.06
// section 3.3.4), so those are compared even when the log has no event for
// them; higher PCRs only when the log extends them (PCR 10 is IMA's, 11-15
// the operating system's, logged elsewhere).
const lastFirmwarePCR = 7

// FormatEventLog is a crypto-agile TCG event log given beside the
// evidence; the vTPM's PCR banks are SHA-1 and SHA-256, and the quote
// covers SHA-256, so a SHA-1-format log cannot be replayed against it.
const FormatEventLog = tcg.FormatCryptoAgile

// replayLog parses a TCG event log and compares its SHA-256 replay with
// the verified quoted PCRs. On a mismatch the error names the first event,
// in log order, from which a PCR's replay no longer reaches its quoted
// value.
func replayLog(raw []byte, quoted tpm.PCRs) (*tcg.Log, string, error) {
	l, err := tcg.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrEventLog, err)
	}
	sha256PCRs := quoted[tpm2.TPMAlgSHA256]
	if !l.HasBank(crypto.SHA256) {
		var banks []string
		for _, b := range l.Banks() {
			banks = append(banks, tcg.HashName(b))
		}
		return nil, "", fmt.Errorf("%w: the event log's banks are [%s], the vTPM quote's sha256: nothing to compare", ErrEventLog, strings.Join(banks, " "))
	}
	logged := map[int]bool{}
	for i := range l.Events {
		if e := &l.Events[i]; e.Extends() {
			logged[e.PCR] = true
		}
	}
	cmp := map[int][]byte{}
	for i, v := range sha256PCRs {
		if i <= lastFirmwarePCR || logged[i] {
			cmp[i] = v
		}
	}
	idx := make([]int, 0, len(cmp))
	for i := range cmp {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	if err := l.Compare(crypto.SHA256, cmp); err != nil {
		var me *tcg.MismatchError
		if errors.As(err, &me) {
			return nil, "", fmt.Errorf("%w: the event log does not replay to the quoted sha256 PCRs %v: %s; %v", ErrEventLog, idx, firstBreak(l, me), err)
		}
		return nil, "", fmt.Errorf("%w: %v", ErrEventLog, err)
	}
	return l, fmt.Sprintf("the event log (%s, %d events, banks %s) replays to the quoted sha256 PCRs %v", l.Format, len(l.Events), bankList(l), idx), nil
}

// firstBreak names the earliest event of the log that breaks replay, as
// far as the log can tell (tcg.PCRMismatch): an event whose digest, by its
// type, must be the hash of its data and is not (it was altered); else the
// first event after a prefix that does reach the quoted value (the quote
// did not see it); else, for a PCR none of whose prefixes matches, its
// first event, from which the replay can no longer be trusted (an event at
// or after it was altered, removed or inserted).
func firstBreak(l *tcg.Log, me *tcg.MismatchError) string {
	var pcrs []int
	suspect, prefix, unmatched := -1, -1, -1
	earliest := func(cur, n int) int {
		if n >= 0 && (cur < 0 || n < cur) {
			return n
		}
		return cur
	}
	for _, m := range me.Mismatches {
		pcrs = append(pcrs, m.PCR)
		for _, n := range m.Suspects {
			suspect = earliest(suspect, n)
		}
		if m.Matched >= 0 {
			prefix = earliest(prefix, m.DivergesAt)
		} else {
			unmatched = earliest(unmatched, m.DivergesAt)
		}
	}
	name := func(n int) string {
		e := &l.Events[n]
		return fmt.Sprintf("#%d (%s, PCR %d)", e.Num, e.TypeName(), e.PCR)
	}
	switch {
	case suspect >= 0:
		return fmt.Sprintf("the first event that breaks replay is %s: its sha256 digest is not the hash of its data, as its type requires (PCRs that differ: %v)", name(suspect), pcrs)
	case prefix >= 0 && (unmatched < 0 || prefix < unmatched):
		return fmt.Sprintf("the first event that breaks replay is %s: the events before it reach the quoted value, so the quote did not see it (PCRs that differ: %v)", name(prefix), pcrs)
	case unmatched >= 0:
		return fmt.Sprintf("replay breaks at or after %s, the first event of its PCR: no prefix of that PCR's events reaches the quoted value, so one of them was altered, removed or inserted, or the register was extended outside the log (PCRs that differ: %v)", name(unmatched), pcrs)
	}
	return fmt.Sprintf("no event of the log extends PCR %v, whose quoted value is not the initial one: the register was extended by events absent from the log", pcrs)
}

func bankList(l *tcg.Log) string {
	var out []string
	for _, b := range l.Banks() {
		out = append(out, tcg.HashName(b))
	}
	return strings.Join(out, "+")
}
