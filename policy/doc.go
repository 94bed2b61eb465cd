// Package policy appraises a verifier's claims against reference values:
// the values an operator says a measurement, a register or a PCR may
// have. It holds the reference value data model (RefValue, read from a
// JSON file by ParseRefValues and judged by Validate) and the engine
// (Engine): Rego policies, OPA v1 syntax, compiled and prepared once by
// New and evaluated by Evaluate on every attestation. Minimum-TCB
// policies (TCBPolicy: SNP TCB component minimums, DCAP accepted
// statuses, grace period and advisory lists) are reference values too,
// of TCB policy claims; the engine judges them into input.tcb.
//
// What is judged: the claims of an attest.Result, named as their JSON
// (docs/sev-snp.md, tdx-sgx.md, tpm.md, nitro.md, cca.md, azure.md),
// against the reference values of the result's kind that count at the
// engine's clock: active ones inside their validity window, plus staged
// ones in the shadow evaluation. Revoked and deprecated values never
// count; the policy sees them, to say why a value no longer matches.
//
// What is trusted: the verifier's claims (the policy never reads
// evidence), the reference values as given (their provenance is
// recorded, not verified: a signed manifest is checked by whoever loads
// it), the policies and the clock.
//
// What a decision does not prove: anything the verifier did not verify.
// The decision's status is never better than the verifier's own (a
// policy cannot rescue a failed signature), and a claim no reference
// value names is not compared: the default policies say so in a reason
// and make no trust vector claim for it.
//
// The built-in policies (defaults/*.rego, Builtin) are one per TEE kind;
// docs/policy.md describes them, the input document and the output
// contract. The package imports only attest from this repository.
package policy
