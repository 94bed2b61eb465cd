package azcvm

import "errors"

// Error kinds. Every error this package returns wraps exactly one of them
// (errors of the composed sevsnp, dcap and tpm verifiers keep their own
// kinds), so callers branch with errors.Is and never on message text.
var (
	// ErrMalformed: the input is not a well-formed HCL report, runtime
	// data document or Trustee evidence document.
	ErrMalformed = errors.New("malformed evidence")
	// ErrBinding: the hardware report's REPORT_DATA does not commit to the
	// HCL runtime data, or the TD quote does not carry the HCL's TD report.
	ErrBinding = errors.New("hcl binding")
	// ErrNonce: the vTPM quote's extraData does not equal the expected
	// nonce.
	ErrNonce = errors.New("nonce mismatch")
	// ErrCollateralMissing: the VCEK, the TD quote or Intel collateral
	// needed for the hardware report was not supplied.
	ErrCollateralMissing = errors.New("collateral missing")
	// ErrChain: an AK certificate supplied beside the evidence certifies
	// another key than the runtime data's AK, or does not chain to a
	// trusted vTPM CA at the verification time.
	ErrChain = errors.New("certificate chain")
	// ErrEventLog: the event log does not parse, or does not replay to
	// the quoted PCR values.
	ErrEventLog = errors.New("event log")
)
