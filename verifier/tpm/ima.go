package tpm

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// IMAClaims describe the IMA measurement list as far as the quote binds
// it, and its appraisal.
type IMAClaims struct {
	// TemplateHash is the algorithm of the list's template digests
	// ("sha1" for binary_runtime_measurements).
	TemplateHash string `json:"template_hash_alg"`
	// Entries is the length of the list; BoundEntries how many of them
	// the quoted PCR 10 covers (the rest were measured after the quote,
	// and are not judged).
	Entries      int `json:"entries"`
	BoundEntries int `json:"bound_entries"`
	// Bank is the PCR bank whose PCR 10 the list replayed to; Padded
	// says it replayed as kernels before 5.8 extend (the SHA-1 template
	// digest zero-padded).
	Bank   string `json:"bank"`
	Padded bool   `json:"padded,omitempty"`
	// AllowList is the allow list's format, empty without one; Keys the
	// IDs and sources of the signature keys, empty without any.
	AllowList string   `json:"allow_list,omitempty"`
	Keys      []string `json:"keys,omitempty"`
	// Appraisal counts the bound file measurements by verdict and lists
	// the first offending ones.
	Appraisal *tcg.IMAAppraisal `json:"appraisal"`
}

// imaChecks binds the IMA log to the quoted PCR 10 (ima.replay) and
// judges the bound file measurements against the allow list
// (ima.allowlist, when one is given) and the keys (ima.signatures, when
// any are given). It returns the checks, the claims when the log is
// bound, and the first failure.
func imaChecks(raw []byte, quoted PCRs, policy *tcg.IMAPolicy, keys []tcg.IMAKey) ([]attest.Check, *IMAClaims, error) {
	var checks []attest.Check
	skipRest := func(why string) {
		if policy != nil {
			checks = append(checks, attest.Skip("ima.allowlist", "not judged: %s", why))
		}
		if keys != nil {
			checks = append(checks, attest.Skip("ima.signatures", "not judged: %s", why))
		}
	}
	if raw == nil {
		err := fmt.Errorf("%w: an IMA allow list or IMA keys were given, but no IMA measurement list (binary_runtime_measurements) to judge", ErrCollateralMissing)
		checks = append(checks, attest.Fail("ima.replay", err))
		skipRest("no IMA measurement list")
		return checks, nil, err
	}
	l, err := tcg.ParseIMA(raw)
	if err != nil {
		err = fmt.Errorf("%w: IMA measurement list: %v", ErrEventLog, err)
		checks = append(checks, attest.Fail("ima.replay", err))
		skipRest("the IMA measurement list does not parse")
		return checks, nil, err
	}
	cl, detail, err := bindIMA(l, quoted)
	if err != nil {
		checks = append(checks, attest.Fail("ima.replay", err))
		skipRest("the IMA measurement list is not bound to the quote")
		return checks, nil, err
	}
	checks = append(checks, attest.Pass("ima.replay", "%s", detail))
	var first error
	c, err := bootAggregateCheck(l, cl.BoundEntries, quoted)
	checks = append(checks, c)
	first = err

	a := l.Appraise(cl.BoundEntries, tcg.IMAPCR, policy, keys)
	cl.Appraisal = a
	if policy != nil {
		cl.AllowList = policy.Format
		if err := allowListResult(a, policy); err != nil {
			checks = append(checks, attest.Fail("ima.allowlist", err))
			if first == nil {
				first = err
			}
		} else {
			extra := ""
			if a.SignedNotListed > 0 {
				extra = fmt.Sprintf(", %d not listed but validly signed", a.SignedNotListed)
			}
			checks = append(checks, attest.Pass("ima.allowlist", "%d file measurement(s) judged against the allow list (%s, %d paths): %d allowed%s, %d excluded, %d not files (ima-buf, boot_aggregate)%s", a.Judged, policy.Format, len(policy.Digests), a.Allowed, extra, a.Excluded, a.NotFiles, unevaluated(policy)))
		}
	}
	if keys != nil {
		for _, k := range keys {
			cl.Keys = append(cl.Keys, k.IDString()+" "+k.Source)
		}
		if err := signatureResult(a, policy, keys); err != nil {
			checks = append(checks, attest.Fail("ima.signatures", err))
			if first == nil {
				first = err
			}
		} else {
			how := "unsigned ones are judged by the allow list alone"
			if policy == nil {
				how = "none unsigned"
			}
			checks = append(checks, attest.Pass("ima.signatures", "%d valid signature(s) by the %d key(s) given (%s), %d unsigned file measurement(s): %s", a.SignatureValid, len(keys), keyIDs(keys), a.Unsigned, how))
		}
	}
	return checks, cl, first
}

// bootAggregateCheck is ima.boot_aggregate: the boot_aggregate entry
// among the bound ones must be the hash of the quoted PCRs 0-9 (Linux 5.8
// and later, any hash but SHA-1) or 0-7 (SHA-1, and older kernels) of the
// bank of its own algorithm: IMA then started on the boot the quote
// shows, not on another machine or boot whose list was replayed here.
// Skipped when there is no such entry, or the quote lacks that bank or
// those PCRs.
func bootAggregateCheck(l *tcg.IMALog, n int, quoted PCRs) (attest.Check, error) {
	const name = "ima.boot_aggregate"
	ba, ok := l.FindBootAggregate(n)
	if !ok {
		return attest.Skip(name, "no boot_aggregate entry among the bound IMA entries"), nil
	}
	var vals map[int][]byte
	for b, v := range quoted {
		if h, err := bankHash(b); err == nil && h == ba.Alg {
			vals = v
		}
	}
	if vals == nil {
		return attest.Skip(name, "boot_aggregate (entry #%d) is %s, and the quote has no %s bank to compare it with", ba.Num, ba.AlgName, ba.AlgName), nil
	}
	upTos := []int{9, 7}
	if ba.Alg == crypto.SHA1 {
		upTos = []int{7}
	}
	var tried []string
	for _, upTo := range upTos {
		d, err := tcg.BootAggregateDigest(ba.Alg, vals, upTo)
		if err != nil {
			continue // those PCRs are not all quoted
		}
		if bytes.Equal(d, ba.Digest) {
			return attest.Pass(name, "boot_aggregate (entry #%d) %s:%x is the hash of the quoted %s PCRs 0-%d", ba.Num, ba.AlgName, ba.Digest, ba.AlgName, upTo), nil
		}
		tried = append(tried, fmt.Sprintf("PCRs 0-%d hash to %x", upTo, d))
	}
	if tried == nil {
		return attest.Skip(name, "the quote does not cover %s PCRs 0-7 to compare boot_aggregate (entry #%d) with", ba.AlgName, ba.Num), nil
	}
	err := fmt.Errorf("%w: IMA's boot_aggregate (entry #%d) is %s:%x, but the quoted %s %s: IMA started on another boot than the quoted one", ErrIMA, ba.Num, ba.AlgName, ba.Digest, ba.AlgName, strings.Join(tried, ", "))
	return attest.Fail(name, err), err
}

// bindIMA finds the prefix of the list that the quoted PCR 10 covers,
// preferring a bank other than the list's own (the replay then hashes
// each entry's template data itself, so the data is bound without
// trusting the recorded digests). In the list's own bank the recorded
// digests are extended, so the entries' template hashes are checked too.
func bindIMA(l *tcg.IMALog, quoted PCRs) (*IMAClaims, string, error) {
	type try struct {
		bank   crypto.Hash
		want   []byte
		padded bool
	}
	var tries []try
	var own *try
	var quotedBanks []string
	for _, b := range sortedBanks(quoted) {
		v, ok := quoted[b][tcg.IMAPCR]
		if !ok {
			continue
		}
		h, _ := bankHash(b)
		quotedBanks = append(quotedBanks, fmt.Sprintf("%s %x", bankName(b), v))
		if h == l.TemplateHash {
			own = &try{h, v, false}
			continue
		}
		tries = append(tries, try{h, v, false}, try{h, v, true})
	}
	if own != nil {
		tries = append(tries, *own)
	}
	if len(quotedBanks) == 0 {
		return nil, "", fmt.Errorf("%w: the quote does not cover PCR %d, so nothing binds the IMA measurement list", ErrEventLog, tcg.IMAPCR)
	}
	pcr10 := 0
	for i := range l.Entries {
		if l.Entries[i].PCR == tcg.IMAPCR {
			pcr10++
		}
	}
	for _, t := range tries {
		var n int
		var ok bool
		if t.padded {
			n, ok = l.MatchPrefixPadded(t.bank, tcg.IMAPCR, t.want)
		} else {
			n, ok = l.MatchPrefix(t.bank, tcg.IMAPCR, t.want)
		}
		if !ok {
			continue
		}
		cl := &IMAClaims{TemplateHash: tcg.HashName(l.TemplateHash), Entries: len(l.Entries), BoundEntries: n, Bank: hashName(t.bank), Padded: t.padded}
		how := "the hash of each entry's template data, computed here"
		if t.padded {
			how = "each entry's recorded template digest zero-padded, as kernels before 5.8 extend"
		}
		if t.bank == l.TemplateHash {
			how = "the recorded template digests"
		}
		if t.bank == l.TemplateHash || t.padded {
			// The recorded digests were extended: they bind the data
			// only if they are its hash.
			var th *tcg.TemplateHashError
			if err := l.CheckTemplatesUpTo(n); errors.As(err, &th) {
				var bad []string
				for _, num := range th.Entries {
					bad = append(bad, fmt.Sprintf("#%d", num))
				}
				return nil, "", fmt.Errorf("%w: the IMA log replays to the quoted %s PCR %d, but the template digest of entries %s is not the hash of their template data: their paths and file digests are not what was measured", ErrEventLog, hashName(t.bank), tcg.IMAPCR, strings.Join(bad, ", "))
			}
		}
		after := ""
		if n < len(l.Entries) {
			after = fmt.Sprintf("; the %d later entries postdate the quote and are not judged", len(l.Entries)-n)
		}
		return cl, fmt.Sprintf("the first %d of %d IMA entries replay to the quoted %s PCR %d (extending %s)%s", n, len(l.Entries), hashName(t.bank), tcg.IMAPCR, how, after), nil
	}
	var replays []string
	for _, t := range tries {
		if !t.padded {
			replays = append(replays, fmt.Sprintf("%s %x", hashName(t.bank), l.Replay(t.bank)))
		}
	}
	return nil, "", fmt.Errorf("%w: no prefix of the IMA log (%d entries, %d for PCR %d) replays to the quoted PCR %d (quoted %s; the whole log replays to %s)", ErrEventLog, len(l.Entries), pcr10, tcg.IMAPCR, tcg.IMAPCR, strings.Join(quotedBanks, ", "), strings.Join(replays, ", "))
}

func allowListResult(a *tcg.IMAAppraisal, p *tcg.IMAPolicy) error {
	if a.PolicyFailures == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d of %d file measurement(s) fail the allow list (%s, %d paths): %d not in it, %d with a digest it does not list for the path, %d violation(s); %s", ErrIMA, a.PolicyFailures, a.Judged, p.Format, len(p.Digests), a.NotInAllowList, a.DigestNotAllowed, a.Violations, offenses(a, func(o tcg.IMAOffense) bool {
		return !strings.HasPrefix(o.Reason, "signature:") && !strings.HasPrefix(o.Reason, "unsigned")
	}))
}

func signatureResult(a *tcg.IMAAppraisal, p *tcg.IMAPolicy, keys []tcg.IMAKey) error {
	if a.SignatureFailures == 0 {
		return nil
	}
	unsigned := ""
	if p == nil {
		unsigned = fmt.Sprintf(", %d unsigned with no allow list to accept them", a.Unsigned)
	}
	return fmt.Errorf("%w: %d file measurement(s) fail the signature check with the %d key(s) given (%s): %d signature(s) do not verify%s, %d violation(s); %s", ErrIMA, a.SignatureFailures, len(keys), keyIDs(keys), a.SignatureInvalid, unsigned, a.Violations, offenses(a, func(o tcg.IMAOffense) bool {
		return !strings.Contains(o.Reason, "allow list") || strings.HasPrefix(o.Reason, "unsigned")
	}))
}

// offenses lists the appraisal's offending entries that pass keep.
func offenses(a *tcg.IMAAppraisal, keep func(tcg.IMAOffense) bool) string {
	var out []string
	for _, o := range a.Offending {
		if keep(o) {
			out = append(out, fmt.Sprintf("#%d %s: %s", o.Num, o.Path, o.Reason))
		}
	}
	if len(out) == 0 {
		return "see claims ima.appraisal.offending"
	}
	return "first: " + strings.Join(out, "; ")
}

func keyIDs(keys []tcg.IMAKey) string {
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.IDString())
	}
	sort.Strings(ids)
	return "IDs " + strings.Join(ids, ", ")
}

func unevaluated(p *tcg.IMAPolicy) string {
	if len(p.Unevaluated) == 0 {
		return ""
	}
	return fmt.Sprintf("; the policy's %s are not evaluated", strings.Join(p.Unevaluated, " and "))
}
