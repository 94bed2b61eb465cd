package tpm

import "errors"

// Error kinds. Every error this package returns wraps exactly one of them,
// so callers branch with errors.Is and never on message text.
var (
	// ErrMalformed: the input is not a well-formed TPMS_ATTEST,
	// TPMT_SIGNATURE, AK public area, PCR file, evidence container, EK
	// certificate or subjectAltName, IMA allow list or key.
	ErrMalformed = errors.New("malformed evidence")
	// ErrSignature: the quote's signature does not verify with the AK.
	ErrSignature = errors.New("bad signature")
	// ErrChain: the AK certificate does not chain to a trusted AK CA, is
	// outside its validity window, or certifies another key; or the EK
	// certificate does not chain to a TPM vendor CA at the verification
	// time.
	ErrChain = errors.New("certificate chain")
	// ErrEKProfile: the EK certificate is not what the TCG EK Credential
	// Profile describes: no subjectAltName naming the TPM's manufacturer,
	// model and version, or it certifies a key that is not an EK (a CA,
	// a signing key, a key of another algorithm or size).
	ErrEKProfile = errors.New("ek certificate profile")
	// ErrEKMismatch: the EK certificate certifies another key than the
	// TPM's EK as otherwise known (the EK an AK was activated against, a
	// TPM2B_PUBLIC of the EK).
	ErrEKMismatch = errors.New("ek mismatch")
	// ErrIMA: IMA file measurements fail the allow list, or their
	// signatures fail the keys given.
	ErrIMA = errors.New("ima appraisal")
	// ErrUnvouched: nothing vouches for the AK (no AK certificate, no
	// credential activation), so the quote could come from any TPM, or
	// from software holding the key.
	ErrUnvouched = errors.New("ak not vouched for")
	// ErrPCR: the supplied PCR values do not hash to the quote's
	// pcrDigest.
	ErrPCR = errors.New("pcr digest mismatch")
	// ErrNonce: extraData does not equal the expected nonce.
	ErrNonce = errors.New("nonce mismatch")
	// ErrEventLog: the event log does not replay to the quoted PCR values,
	// or the IMA log to the quoted PCR 10.
	ErrEventLog = errors.New("event log")
	// ErrActivation: the secret an attester recovered with
	// TPM2_ActivateCredential is not the one issued.
	ErrActivation = errors.New("credential activation failed")
	// ErrCollateralMissing: the AK public, the signature or the PCR values
	// needed to verify a bare quote were not supplied.
	ErrCollateralMissing = errors.New("collateral missing")
)
