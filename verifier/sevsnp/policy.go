package sevsnp

import (
	"fmt"

	"github.com/assay-dev/assay/attest"
)

// Policy is the built-in appraisal policy for verified SNP claims: the
// part of appraisal that is a choice rather than a fact. The zero value is
// the default policy: debug guests, guests that allow a migration agent and
// guests with policy bits this verifier does not know are contraindicated;
// every VMPL is accepted and reported (an Azure paravisor reports at VMPL 0,
// other stacks differ: a deployment that cares sets MaxVMPL).
type Policy struct {
	// AllowDebug accepts guests launched with POLICY.DEBUG: the host can
	// then read and write guest memory.
	AllowDebug bool
	// AllowMigrateMA accepts guests that allow a migration agent.
	AllowMigrateMA bool
	// MaxVMPL, when not nil, is the highest (least privileged) VMPL
	// accepted.
	MaxVMPL *uint32
}

// Apply judges verified claims and returns one check per rule.
func (p Policy) Apply(c *Claims) []attest.Check {
	var out []attest.Check
	switch {
	case c.Policy.Debug && !p.AllowDebug:
		out = append(out, attest.Fail("policy.debug", fmt.Errorf("%w: POLICY.DEBUG is set (policy %s): the host can read and modify guest memory; contraindicated by default policy", ErrPolicy, c.Policy.Raw)))
	case c.Policy.Debug:
		out = append(out, attest.Pass("policy.debug", "POLICY.DEBUG is set and the policy allows debug guests"))
	default:
		out = append(out, attest.Pass("policy.debug", "POLICY.DEBUG is clear: the guest cannot be debugged by the host"))
	}
	switch {
	case c.Policy.MigrateMA && !p.AllowMigrateMA:
		out = append(out, attest.Fail("policy.migrate_ma", fmt.Errorf("%w: POLICY.MIGRATE_MA is set (policy %s): a migration agent may export the guest; contraindicated by default policy", ErrPolicy, c.Policy.Raw)))
	case c.Policy.MigrateMA:
		out = append(out, attest.Pass("policy.migrate_ma", "POLICY.MIGRATE_MA is set and the policy allows migration agents"))
	default:
		out = append(out, attest.Pass("policy.migrate_ma", "POLICY.MIGRATE_MA is clear: no migration agent"))
	}
	if c.Policy.ReservedBits != "" {
		out = append(out, attest.Fail("policy.reserved_bits", fmt.Errorf("%w: POLICY sets bits %s that this verifier does not know; refusing what it cannot explain", ErrPolicy, c.Policy.ReservedBits)))
	}
	if p.MaxVMPL != nil {
		if c.VMPL > *p.MaxVMPL {
			out = append(out, attest.Fail("policy.vmpl", fmt.Errorf("%w: report VMPL is %d, the policy accepts at most %d", ErrPolicy, c.VMPL, *p.MaxVMPL)))
		} else {
			out = append(out, attest.Pass("policy.vmpl", "report VMPL %d is within the policy's maximum %d", c.VMPL, *p.MaxVMPL))
		}
	}
	return out
}
