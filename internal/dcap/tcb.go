package dcap

// TCB level matching and status convergence, as Intel's Quote Verification
// Library does them. References, read for their rules (no code copied):
//
//   - [QVL] intel/SGX-TDX-DCAP-QuoteVerificationLibrary,
//     Src/AttestationLibrary/src: Verifiers/QuoteVerifier.cpp (steps
//     4.1.2.4.9-4.1.2.4.17), Verifiers/Checks/TcbLevelCheck.cpp
//     (matchTcbLevels, isCpuSvnHigherOrEqual, isTdxTcbHigherOrEqual,
//     convergeTcbStatusWithQeTcbStatus), Verifiers/Checks/TdxModuleCheck.cpp
//     (checkTdxModuleTcbStatus, convergeTcbStatusWithTdxModuleStatus),
//     Verifiers/EnclaveReportVerifier.cpp and EnclaveIdentityV2.cpp (QE
//     identity), parsers' TcbLevel::operator> (level order).
//   - [qvl-rs] Phala-Network/dcap-qvl src/verify.rs, src/tcb_info.rs.
//   - [automata] automata-network/automata-dcap-attestation,
//     TCBInfoV3Base.sol (getTDXTcbStatus, checkTdxModuleTcbStatus).
//
// Where they differ, [QVL] wins; the differences are noted where they
// matter.

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Match finds the TCB level of a platform, and for a TDX platform on a TDX
// 1.5+ module (TEE_TCB_SVN[1] > 0) the level of its module. The platform's
// TEE is TDX exactly when p.TEETCBSVN is set.
//
// Steps, in [QVL] order:
//
//  1. The TCB info must be for the platform's TEE, FMSPC and PCE ID
//     (QuoteVerifier 4.1.2.4.9, 4.1.2.4.10); otherwise ErrCollateral.
//  2. TDX: the TDX module identity (4.1.2.4.11). With TEE_TCB_SVN[1] == 0
//     (TDX 1.0) it is tdxModule; otherwise the tdxModuleIdentities entry
//     with id "TDX_%02X" of TEE_TCB_SVN[1] (ids compared in upper case, as
//     findTdxModuleIdentity does); no such entry is ErrTCB. MRSIGNERSEAM
//     must equal its mrsigner, and SEAMATTRIBUTES under attributesMask its
//     attributes under the mask (PCS API v4, tdxModule; older [QVL],
//     [qvl-rs]). Current [QVL] (4.1.2.4.11.2) further requires every
//     SEAMATTRIBUTES byte to be zero, whatever the mask: so do we, since a
//     set SEAMATTRIBUTES bit (a debug module) never passes Intel's
//     library. A mismatch is ErrTCB.
//  3. Platform level (matchTcbLevels, 4.1.2.4.17.1-3): levels are walked in
//     Intel's order, the descending order of TcbLevel::operator> (SGX
//     component SVNs compared lexicographically, then PCESVN, then for TDX
//     the TDX component SVNs); it is the document order of everything
//     Intel signs, and a stable sort keeps it so. A level matches when
//     every PCK SGX TCB component SVN and the PCESVN are >= the level's
//     (isCpuSvnHigherOrEqual) and, for TDX, every TEE_TCB_SVN byte is >=
//     the level's tdxtcbcomponents svn (isTdxTcbHigherOrEqual), except
//     that bytes 0 and 1 are skipped when TEE_TCB_SVN[1] > 0: they are the
//     module's ISVSVN and major version, which step 4 grades. The first
//     match is the platform's level. [QVL] checks the TDX components only
//     on levels whose SGX components match, which this does too ([automata]
//     differs); [qvl-rs] does not skip bytes 0 and 1. No level: ErrTCB.
//  4. TDX 1.5+: the module's level is the first of the identity's
//     tcbLevels, in document order, with isvsvn <= TEE_TCB_SVN[0]
//     (checkTdxModuleTcbStatus); none is ErrTCB.
//
// The results are not yet converged: see Converge.
func (t *TCBInfo) Match(p PlatformTCB) (platform TCBResult, module *TCBResult, err error) {
	tdx := p.TEETCBSVN != nil
	if err := t.Applies(tdx, p.FMSPC, p.PCEID); err != nil {
		return TCBResult{}, nil, err
	}
	if len(t.Levels) == 0 {
		return TCBResult{}, nil, fmt.Errorf("%w: %s has no TCB levels", ErrCollateral, t.Describe())
	}
	var svn [16]byte
	var ident *TDXModuleIdentity
	if tdx {
		svn = *p.TEETCBSVN
		if ident, err = t.checkModule(svn, p.MRSignerSeam, p.SeamAttributes); err != nil {
			return TCBResult{}, nil, err
		}
	}

	order := t.intelOrder()
	sgxMatched, at := -1, -1
	for _, i := range order {
		l := &t.Levels[i]
		if !sgxAtLeast(p, l) {
			continue
		}
		if sgxMatched < 0 {
			sgxMatched = i
		}
		if !tdx || tdxAtLeast(svn, l) {
			at = i
			break
		}
	}
	switch {
	case sgxMatched < 0:
		return TCBResult{}, nil, fmt.Errorf("%w: no TCB level of %s matches the platform: PCK SGX TCB components %s and PCESVN %d are below every level (lowest: %s)", ErrTCB, t.Describe(), svns(p.SGXComponents[:]), p.PCESVN, t.levelWords(order[len(order)-1], len(order)))
	case at < 0:
		return TCBResult{}, nil, fmt.Errorf("%w: no TCB level of %s matches the platform: the SGX components match %s, but TEE_TCB_SVN %x is below the TDX components of it and of every lower level", ErrTCB, t.Describe(), t.levelWords(sgxMatched, len(order)), svn[:])
	}
	l := t.Levels[at]
	platform = TCBResult{Status: l.Status, Date: l.Date, Advisory: slices.Clone(l.Advisory), Level: t.levelWords(at, len(order))}
	for _, i := range order {
		if i == at {
			break
		}
		platform.Superseded = oldestAfter(platform.Superseded, t.Levels[i].Date, l.Date)
	}

	if ident != nil {
		for i, ml := range ident.Levels {
			if uint16(svn[0]) >= ml.ISVSVN {
				module = &TCBResult{Status: ml.Status, Date: ml.Date, Advisory: slices.Clone(ml.Advisory),
					Level: fmt.Sprintf("%s level %d of %d (ISVSVN %d)", ident.ID, i+1, len(ident.Levels), ml.ISVSVN)}
				module.Superseded = supersededAmong(ident.Levels[:i], ml.Date)
				break
			}
		}
		if module == nil {
			return TCBResult{}, nil, fmt.Errorf("%w: TDX module %s ISVSVN %d (TEE_TCB_SVN[0]) is below every level of its identity in %s", ErrTCB, ident.ID, svn[0], t.Describe())
		}
	}
	return platform, module, nil
}

// checkModule is step 2 of Match. It returns the module identity whose
// levels grade the module, nil for a TDX 1.0 module.
func (t *TCBInfo) checkModule(svn [16]byte, mrSignerSeam [48]byte, seamAttributes [8]byte) (*TDXModuleIdentity, error) {
	if t.TDXModule == nil {
		return nil, fmt.Errorf("%w: %s has no tdxModule", ErrCollateral, t.Describe())
	}
	want, name := *t.TDXModule, "tdxModule"
	var ident *TDXModuleIdentity
	if svn[1] > 0 {
		id := fmt.Sprintf("TDX_%02X", svn[1])
		for i := range t.TDXModuleIdentities {
			if strings.ToUpper(t.TDXModuleIdentities[i].ID) == id {
				ident = &t.TDXModuleIdentities[i]
				break
			}
		}
		if ident == nil {
			var have []string
			for _, m := range t.TDXModuleIdentities {
				have = append(have, m.ID)
			}
			return nil, fmt.Errorf("%w: the TDX module is major version %d (TEE_TCB_SVN[1]), and %s has no identity %s (it has: %s)", ErrTCB, svn[1], t.Describe(), id, orNone(have))
		}
		want, name = ident.TDXModule, "TDX module identity "+ident.ID
	}
	if mrSignerSeam != want.MRSigner {
		return nil, fmt.Errorf("%w: MRSIGNERSEAM is %x, %s of %s wants %x", ErrTCB, mrSignerSeam[:], name, t.Describe(), want.MRSigner[:])
	}
	var got, exp [8]byte
	for i := range got {
		got[i] = seamAttributes[i] & want.AttributesMask[i]
		exp[i] = want.Attributes[i] & want.AttributesMask[i]
	}
	if got != exp {
		return nil, fmt.Errorf("%w: SEAMATTRIBUTES %x under mask %x is %x, %s of %s wants %x", ErrTCB, seamAttributes[:], want.AttributesMask[:], got[:], name, t.Describe(), exp[:])
	}
	if seamAttributes != [8]byte{} {
		return nil, fmt.Errorf("%w: SEAMATTRIBUTES is %x; Intel's verification library accepts only zero (a debug or non-production TDX module)", ErrTCB, seamAttributes[:])
	}
	return ident, nil
}

// intelOrder returns the indices of t.Levels in descending
// TcbLevel::operator> order, ties in document order.
func (t *TCBInfo) intelOrder() []int {
	order := make([]int, len(t.Levels))
	for i := range order {
		order[i] = i
	}
	tdx := t.ID == TCBInfoTDX
	slices.SortStableFunc(order, func(a, b int) int {
		la, lb := &t.Levels[a], &t.Levels[b]
		if c := bytes.Compare(lb.SGXComponents[:], la.SGXComponents[:]); c != 0 {
			return c
		}
		if la.PCESVN != lb.PCESVN {
			return int(lb.PCESVN) - int(la.PCESVN)
		}
		if tdx && la.TDXComponents != nil && lb.TDXComponents != nil {
			return bytes.Compare(lb.TDXComponents[:], la.TDXComponents[:])
		}
		return 0
	})
	return order
}

func sgxAtLeast(p PlatformTCB, l *TCBLevel) bool {
	for i, v := range l.SGXComponents {
		if p.SGXComponents[i] < v {
			return false
		}
	}
	return p.PCESVN >= l.PCESVN
}

func tdxAtLeast(svn [16]byte, l *TCBLevel) bool {
	if l.TDXComponents == nil {
		return false
	}
	start := 0
	if svn[1] > 0 {
		start = 2
	}
	for i := start; i < len(svn); i++ {
		if svn[i] < l.TDXComponents[i] {
			return false
		}
	}
	return true
}

func (t *TCBInfo) levelWords(i, n int) string {
	l := t.Levels[i]
	s := fmt.Sprintf("tcbLevels[%d] of %d (SGX components %s, PCESVN %d", i, n, svns(l.SGXComponents[:]), l.PCESVN)
	if l.TDXComponents != nil {
		s += fmt.Sprintf(", TDX components %s", svns(l.TDXComponents[:]))
	}
	return s + ")"
}

func svns(b []uint8) string {
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ".")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Match checks a quoting enclave's report against the identity and grades
// its ISVSVN ([QVL] EnclaveReportVerifier, 4.1.2.9.5-4.1.2.9.9):
// MISCSELECT & miscselectMask == miscselect & miscselectMask,
// ATTRIBUTES & attributesMask == attributes & attributesMask, MRSIGNER ==
// mrsigner, ISVPRODID == isvprodid; any mismatch is ErrCollateral, a
// wrong QE identity (or a wrong QE). The QE's level is then the first of
// tcbLevels, in document order, with isvsvn <= ISVSVN. A QE below every
// level is Revoked, as [QVL] EnclaveIdentityV2::getTcbStatus has it (not
// an error: the status says it; [qvl-rs] errs instead).
func (q *QEIdentity) Match(r QEReportIdentity) (TCBResult, error) {
	if r.MiscSelect&q.MiscSelectMask != q.MiscSelect&q.MiscSelectMask {
		return TCBResult{}, fmt.Errorf("%w: wrong QE identity: QE MISCSELECT %08x under mask %08x is %08x, the %s wants %08x", ErrCollateral, r.MiscSelect, q.MiscSelectMask, r.MiscSelect&q.MiscSelectMask, q.Describe(), q.MiscSelect&q.MiscSelectMask)
	}
	var got, want [16]byte
	for i := range got {
		got[i] = r.Attributes[i] & q.AttributesMask[i]
		want[i] = q.Attributes[i] & q.AttributesMask[i]
	}
	if got != want {
		return TCBResult{}, fmt.Errorf("%w: wrong QE identity: QE ATTRIBUTES %x under mask %x is %x, the %s wants %x", ErrCollateral, r.Attributes[:], q.AttributesMask[:], got[:], q.Describe(), want[:])
	}
	if r.MRSigner != q.MRSigner {
		return TCBResult{}, fmt.Errorf("%w: wrong QE identity: QE MRSIGNER is %x, the %s wants %x", ErrCollateral, r.MRSigner[:], q.Describe(), q.MRSigner[:])
	}
	if r.ISVProdID != q.ISVProdID {
		return TCBResult{}, fmt.Errorf("%w: wrong QE identity: QE ISVPRODID is %d, the %s wants %d", ErrCollateral, r.ISVProdID, q.Describe(), q.ISVProdID)
	}
	for i, l := range q.Levels {
		if l.ISVSVN <= r.ISVSVN {
			return TCBResult{Status: l.Status, Date: l.Date, Advisory: slices.Clone(l.Advisory),
				Level:      fmt.Sprintf("%s level %d of %d (ISVSVN %d)", q.ID, i+1, len(q.Levels), l.ISVSVN),
				Superseded: supersededAmong(q.Levels[:i], l.Date)}, nil
		}
	}
	return TCBResult{Status: Revoked, Level: fmt.Sprintf("below every %s level (QE ISVSVN %d)", q.ID, r.ISVSVN)}, nil
}

// Status flags: every TCB status is a set of these, and convergence is
// their union.
const (
	flagSW = 1 << iota
	flagConfig
	flagOutOfDate
	flagRevoked
)

func statusFlags(s TCBStatus) int {
	switch s {
	case UpToDate:
		return 0
	case SWHardeningNeeded:
		return flagSW
	case ConfigurationNeeded:
		return flagConfig
	case ConfigurationAndSWHardeningNeeded:
		return flagConfig | flagSW
	case OutOfDate:
		return flagOutOfDate
	case OutOfDateConfigurationNeeded:
		return flagOutOfDate | flagConfig
	}
	return flagRevoked // Revoked, and anything unknown: fail closed
}

func flagsStatus(f int) TCBStatus {
	switch {
	case f&flagRevoked != 0:
		return Revoked
	case f&flagOutOfDate != 0 && f&flagConfig != 0:
		return OutOfDateConfigurationNeeded
	case f&flagOutOfDate != 0:
		// Intel has no "OutOfDate and SW hardening needed": out of date
		// subsumes it.
		return OutOfDate
	case f&flagConfig != 0 && f&flagSW != 0:
		return ConfigurationAndSWHardeningNeeded
	case f&flagConfig != 0:
		return ConfigurationNeeded
	case f&flagSW != 0:
		return SWHardeningNeeded
	}
	return UpToDate
}

// Converge combines the platform's TCB status, the TDX module's (nil for
// SGX and TDX 1.0) and the QE's into the quote's, as [QVL] does
// (convergeTcbStatusWithTdxModuleStatus, then
// convergeTcbStatusWithQeTcbStatus): an OutOfDate module or QE makes
// UpToDate and SWHardeningNeeded OutOfDate, and ConfigurationNeeded and
// ConfigurationAndSWHardeningNeeded OutOfDateConfigurationNeeded; a
// Revoked one makes the result Revoked; an UpToDate one leaves the
// platform's status. Intel grades modules and QEs only UpToDate, OutOfDate
// or Revoked; any other status is combined the same way, as a union of its
// parts (out of date, configuration needed, SW hardening needed, revoked),
// so no input can make the result better than any part; an unknown status
// counts as Revoked.
//
// Advisory is the sorted union of the three levels' advisory IDs, Date the
// platform level's tcbDate, Level a summary of the three statuses.
// ([QVL]'s TD relaunch check of TDX 1.5 quotes, TEE_TCB_SVN2, and its
// statuses TDRelaunchAdvised* are not modelled.)
func Converge(platform TCBResult, module *TCBResult, qe TCBResult) TCBResult {
	f := statusFlags(platform.Status) | statusFlags(qe.Status)
	adv := append(slices.Clone(platform.Advisory), qe.Advisory...)
	words := fmt.Sprintf("platform %s", platform.Status)
	if module != nil {
		f |= statusFlags(module.Status)
		adv = append(adv, module.Advisory...)
		words += fmt.Sprintf(", TDX module %s", module.Status)
	}
	words += fmt.Sprintf(", QE %s", qe.Status)
	slices.Sort(adv)
	adv = slices.Compact(adv)
	if len(adv) == 0 {
		adv = nil
	}
	sup := platform.Superseded
	for _, r := range []*TCBResult{module, &qe} {
		if r != nil && !r.Superseded.IsZero() && (sup.IsZero() || r.Superseded.Before(sup)) {
			sup = r.Superseded
		}
	}
	return TCBResult{Status: flagsStatus(f), Date: platform.Date, Advisory: adv, Level: words, Superseded: sup}
}

// supersededAmong returns the oldest tcbDate after date among the levels
// above a matched identity level (zero when none is later).
func supersededAmong(above []IdentityLevel, date time.Time) time.Time {
	var sup time.Time
	for _, l := range above {
		sup = oldestAfter(sup, l.Date, date)
	}
	return sup
}

// oldestAfter returns the older of cur and d when d is after date, else
// cur; a zero cur is none yet.
func oldestAfter(cur, d, date time.Time) time.Time {
	if !d.After(date) || (!cur.IsZero() && !d.Before(cur)) {
		return cur
	}
	return d
}

// DefaultTier maps a TCB status to the EAR tier the default policy gives
// it: "affirming" for UpToDate; "warning" for SWHardeningNeeded,
// ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate and
// OutOfDateConfigurationNeeded (a genuine platform whose TCB needs
// attention); "contraindicated" for Revoked, and for anything else (fail
// closed). A policy may be stricter.
func DefaultTier(s TCBStatus) string {
	switch s {
	case UpToDate:
		return "affirming"
	case SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded:
		return "warning"
	}
	return "contraindicated"
}
