package nitro

import (
	"fmt"

	"github.com/assay-dev/assay/attest"
)

// Policy is the built-in appraisal policy for verified Nitro claims. The
// zero value is the default: an enclave in debug mode is contraindicated.
type Policy struct {
	// AllowDebug accepts enclaves started in debug mode (nitro-cli
	// run-enclave --debug-mode). Their PCR0-2 are zero, so the document
	// does not say which image runs, and the parent instance can read the
	// enclave's console.
	AllowDebug bool
}

// Apply judges verified claims and returns one check per rule.
func (p Policy) Apply(c *Claims) []attest.Check {
	for _, i := range []int{0, 1, 2} {
		if _, ok := c.PCRs[i]; !ok {
			return []attest.Check{attest.Fail("policy.debug", fmt.Errorf("%w: the document has no PCR%d, so whether the enclave runs in debug mode cannot be told", ErrPolicy, i))}
		}
	}
	switch {
	case c.Debug && !p.AllowDebug:
		return []attest.Check{attest.Fail("policy.debug", fmt.Errorf("%w: PCR0, PCR1 and PCR2 are all zero: the enclave runs in debug mode, so the document does not identify the enclave image and the parent instance can read the enclave's console; contraindicated by default policy", ErrPolicy))}
	case c.Debug:
		return []attest.Check{attest.Pass("policy.debug", "PCR0, PCR1 and PCR2 are all zero (debug mode) and the policy allows debug enclaves")}
	default:
		return []attest.Check{attest.Pass("policy.debug", "PCR0-2 are not all zero: the enclave does not run in debug mode")}
	}
}
