package cca

import (
	"fmt"

	ccaplatform "github.com/veraison/ccatoken/platform"

	"github.com/assay-dev/assay/attest"
)

// Policy is the built-in appraisal policy for verified CCA claims. The
// zero value is the default: a platform whose security lifecycle is not
// "secured" (0x3000-0x30ff; RMM A7.2.3.2, platform lifecycle claim) lowers the
// result to warning. Outside that range the platform root of trust may be
// in test, provisioning or debug state, or decommissioned: its
// measurements and its CPAK mean less than they say.
type Policy struct {
	// RequireSecured contraindicates, instead of warning about, a
	// platform whose lifecycle is not secured.
	RequireSecured bool
}

// Apply judges verified claims and returns one check per rule.
func (p Policy) Apply(c *Claims) []attest.Check {
	lc := c.Platform.Lifecycle
	state := ccaplatform.LifeCycleToState(lc)
	if state == ccaplatform.StateSecured {
		return []attest.Check{attest.Pass("platform.lifecycle", "platform lifecycle %#04x is %s", lc, state)}
	}
	if p.RequireSecured {
		return []attest.Check{attest.Fail("platform.lifecycle", fmt.Errorf("%w: platform lifecycle %#04x is %s, not secured (0x3000-0x30ff); contraindicated by policy", ErrPolicy, lc, state))}
	}
	return []attest.Check{attest.Warn("platform.lifecycle", "platform lifecycle %#04x is %s, not secured (0x3000-0x30ff): the platform root of trust may be in test, provisioning or debug state; lowered to warning by default policy", lc, state)}
}
