package verifier

import (
	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// Config wires the verifiers to their collateral sources.
type Config struct {
	// SNPCollateral fetches VCEKs, chains and CRLs; nil is offline.
	SNPCollateral sevsnp.Getter
	// SNPProduct names the AMD product for version 2 reports that carry
	// no CPUID and come without a certificate naming it.
	SNPProduct sevsnp.Product
	// SNPCache is shared across appraisals; nil is none.
	SNPCache *sevsnp.Cache
}

// Verifiers returns every verifier, in the order classification tries
// them. Adding an evidence kind means adding it here; there is no init()
// registration.
func Verifiers(c Config) []attest.Verifier {
	return []attest.Verifier{
		&sevsnp.Verifier{Collateral: c.SNPCollateral, Product: c.SNPProduct, Cache: c.SNPCache},
	}
}
