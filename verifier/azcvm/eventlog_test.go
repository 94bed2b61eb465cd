package azcvm_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/azcvm"
)

// appraiseSynth appraises synthetic evidence as `assay verify` would, with
// the test AMD roots (and any extra roots) and the given collateral.
func appraiseSynth(t *testing.T, vm *synthVM, evidence []byte, nonce []byte, certs []*x509.Certificate, other []attest.NamedBlob, roots ...*x509.Certificate) (*attest.Result, map[string]any) {
	t.Helper()
	b := attest.Bundle{Evidence: evidence, Name: "evidence.json", Certificates: append(vm.certificates(), certs...), Other: other}
	res := (&azcvm.Verifier{}).Appraise(context.Background(), b, attest.Params{Now: synthAt, Nonce: nonce, Roots: append(vm.guest.Roots(), roots...)})
	j, err := json.Marshal(res.Claims)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return res, m
}

func logBlob(raw []byte) []attest.NamedBlob {
	return []attest.NamedBlob{{Name: "binary_bios_measurements", Data: raw}}
}

func names(cs []attest.Check) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// TestEventLogReplay: a log that replays to the quoted PCRs passes
// vtpm.eventlog.replay, and its decoded events join the claims (Secure
// Boot on, from a data-verified SecureBoot variable in PCR 7).
func TestEventLogReplay(t *testing.T) {
	vm := newSynthVM(t)
	l := buildEventLog(synthEvents())
	nonce := []byte("fresh")
	res, m := appraiseSynth(t, vm, vm.evidence(t, l.pcrs, nonce), nonce, nil, logBlob(l.raw))
	if res.Status != attest.StatusAffirming {
		t.Fatalf("status %s, failed %+v\nchecks %v", res.Status, res.Failed(), names(res.Checks))
	}
	want := []string{"hcl.parse", "snp.parse"}
	if got := names(res.Checks); !equalPrefix(got, want) || !contains(got, "vtpm.eventlog.replay") {
		t.Errorf("checks %v", got)
	}
	ch := check(res, "vtpm.eventlog.replay")
	if ch == nil || !ch.OK || ch.Skipped || !strings.Contains(ch.Detail, "[0 1 2 3 4 5 6 7 9]") {
		t.Errorf("vtpm.eventlog.replay: %+v", ch)
	}
	el, _ := m["event_log"].(map[string]any)
	if el == nil || el["secure_boot"] != true {
		t.Fatalf("event_log claims: %v", m["event_log"])
	}
	if apps, _ := el["boot_applications"].([]any); len(apps) != 1 {
		t.Errorf("boot_applications: %v", el["boot_applications"])
	}
	if _, ok := m["pcrs"]; !ok {
		t.Error("no pcrs claim")
	}

	// Without a log: skipped, said so, and no event_log claim.
	res, m = appraiseSynth(t, vm, vm.evidence(t, l.pcrs, nonce), nonce, nil, nil)
	if ch := check(res, "vtpm.eventlog.replay"); res.Status != attest.StatusAffirming || ch == nil || !ch.Skipped {
		t.Errorf("without a log: %s, %+v", res.Status, ch)
	}
	if m["event_log"] != nil {
		t.Error("event_log claim without a log")
	}
}

// TestEventLogTamper alters each event's SHA-256 digest in turn. Every
// change breaks the replay (contraindicated, ErrEventLog), no event_log
// or pcrs claim is made, and the check names the first event that breaks
// it: the altered one where the log shows it (an event whose digest must
// be the hash of its data), else the first event of its PCR, from which
// on the replay cannot be trusted.
func TestEventLogTamper(t *testing.T) {
	vm := newSynthVM(t)
	evs := synthEvents()
	l := buildEventLog(evs)
	evidence := vm.evidence(t, l.pcrs, nil)
	ev, err := azcvm.Parse(evidence)
	if err != nil {
		t.Fatal(err)
	}
	// The first event of each PCR, as numbered in the log (#0 is the
	// Spec ID header).
	first := map[uint32]int{}
	for i, e := range evs {
		if _, ok := first[e.pcr]; !ok {
			first[e.pcr] = i + 1
		}
	}
	for i, e := range evs {
		num := i + 1
		t.Run(fmt.Sprintf("event-%d", num), func(t *testing.T) {
			raw := bytes.Clone(l.raw)
			raw[l.offsets[i]+sha256DigestOffset] ^= 0x01
			res, m := appraiseSynth(t, vm, evidence, nil, nil, logBlob(raw))
			ch := check(res, "vtpm.eventlog.replay")
			if res.Status != attest.StatusContraindicated || ch == nil || ch.OK {
				t.Fatalf("status %s, replay %+v", res.Status, ch)
			}
			if m["event_log"] != nil || m["pcrs"] != nil {
				t.Error("claims from a log that does not replay")
			}
			dataHashed := e.measured == nil && (e.typ == evSeparator || e.typ == evEFIVariableDriverConfig)
			want := fmt.Sprintf("first event that breaks replay is #%d ", num)
			if !dataHashed {
				want = fmt.Sprintf("replay breaks at or after #%d ", first[e.pcr])
			}
			if !strings.Contains(ch.Detail, want) {
				t.Errorf("detail does not name %q: %s", want, ch.Detail)
			}
			_, _, err := azcvm.Verify(context.Background(), ev, azcvm.Options{Now: func() time.Time { return synthAt }, SNP: snpOptions(vm), EventLog: raw})
			if !errors.Is(err, azcvm.ErrEventLog) {
				t.Errorf("Verify: %v, want ErrEventLog", err)
			}
		})
	}

	// An event logged after the quote was taken: the events before it
	// reach the quoted value, and it is named.
	late := buildEventLog(append(append([]logEvent{}, evs...), logEvent{pcr: 9, typ: evIPL, data: []byte("grub_cmd: boot\x00")}))
	res, _ := appraiseSynth(t, vm, evidence, nil, nil, logBlob(late.raw))
	if ch := check(res, "vtpm.eventlog.replay"); ch == nil || ch.OK || !strings.Contains(ch.Detail, fmt.Sprintf("first event that breaks replay is #%d (EV_IPL, PCR 9): the events before it reach the quoted value", len(evs)+1)) {
		t.Errorf("late event: %+v", ch)
	}

	// A truncated log is malformed: the check fails, naming the parse.
	_, _, err = azcvm.Verify(context.Background(), ev, azcvm.Options{Now: func() time.Time { return synthAt }, SNP: snpOptions(vm), EventLog: l.raw[:len(l.raw)-3]})
	if !errors.Is(err, azcvm.ErrEventLog) {
		t.Errorf("truncated log: %v, want ErrEventLog", err)
	}
}

// TestEventLogData: the replay binds digests, not data. A SecureBoot
// variable whose data was changed (digest left alone) still replays, but
// its data no longer hashes to its digest, so secure_boot is not claimed.
func TestEventLogData(t *testing.T) {
	vm := newSynthVM(t)
	evs := synthEvents()
	l := buildEventLog(evs)
	raw := bytes.Clone(l.raw)
	// The SecureBoot variable is event #3; its data's last byte is the
	// variable's value (1: enabled).
	i := 2
	end := l.offsets[i+1]
	if raw[end-1] != 1 {
		t.Fatalf("layout: %x", raw[end-8:end])
	}
	raw[end-1] = 0
	res, m := appraiseSynth(t, vm, vm.evidence(t, l.pcrs, nil), nil, nil, logBlob(raw))
	if ch := check(res, "vtpm.eventlog.replay"); res.Status != attest.StatusAffirming || ch == nil || !ch.OK {
		t.Fatalf("status %s, replay %+v", res.Status, ch)
	}
	el, _ := m["event_log"].(map[string]any)
	if el == nil || el["secure_boot"] != nil {
		t.Errorf("secure_boot claimed from data that is not what was measured: %v", el["secure_boot"])
	}
}

func equalPrefix(got, want []string) bool {
	if len(got) < len(want) {
		return false
	}
	for i := range want {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
