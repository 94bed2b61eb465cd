package verifier

import (
	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/verifier/azcvm"
	"github.com/assay-dev/assay/verifier/cca"
	"github.com/assay-dev/assay/verifier/nitro"
	"github.com/assay-dev/assay/verifier/sevsnp"
	"github.com/assay-dev/assay/verifier/sgx"
	"github.com/assay-dev/assay/verifier/tdx"
	"github.com/assay-dev/assay/verifier/tpm"
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
	// DCAPCache is shared by the TDX and SGX verifiers; nil is none.
	DCAPCache *dcap.Cache
	// DCAPCollateral fetches Intel TCB info, QE identities and CRLs; nil
	// is offline.
	DCAPCollateral dcap.Getter
	// TCBTiers overrides the default tier of Intel TCB statuses.
	TCBTiers map[dcap.TCBStatus]string
	// TPMEnrolled are AKs that passed credential activation; nil is none.
	TPMEnrolled []tpm.Enrollment
	// NitroCache is shared across Nitro appraisals; nil is none.
	NitroCache *nitro.Cache
	// AttesterBundles marks the inputs as the attester's own (the
	// service): trust material among them that only an operator may
	// supply (IMA allow lists and keys, CCA platform endorsements) is
	// ignored.
	AttesterBundles bool
}

// Verifiers returns every verifier, in the order classification tries
// them: formats with a distinctive header first, the SEV-SNP raw report
// (recognised by its size alone) last. Adding an evidence kind means adding
// it here; there is no init() registration.
func Verifiers(c Config) []attest.Verifier {
	return []attest.Verifier{
		// Azure CVM evidence first: its Trustee JSON carries SNP and TDX
		// reports that the sevsnp and tdx verifiers would take alone.
		&azcvm.Verifier{SNPCollateral: c.SNPCollateral, SNPProduct: c.SNPProduct, SNPCache: c.SNPCache, DCAPCache: c.DCAPCache, DCAPCollateral: c.DCAPCollateral, TCBTiers: c.TCBTiers},
		&tdx.Verifier{Cache: c.DCAPCache, Collateral: c.DCAPCollateral, TCBTiers: c.TCBTiers},
		&sgx.Verifier{Cache: c.DCAPCache, Collateral: c.DCAPCollateral, TCBTiers: c.TCBTiers},
		&nitro.Verifier{Cache: c.NitroCache},
		&tpm.Verifier{Enrolled: c.TPMEnrolled, OperatorIMAOnly: c.AttesterBundles},
		&cca.Verifier{OperatorEndorsementsOnly: c.AttesterBundles},
		&sevsnp.Verifier{Collateral: c.SNPCollateral, Product: c.SNPProduct, Cache: c.SNPCache},
	}
}
