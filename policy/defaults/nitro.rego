# Package assay.nitro is the default appraisal policy for AWS Nitro
# Enclaves attestation documents (claims: docs/nitro.md). Every PCR that
# reference values name ("pcrs.0") must match one of its values.
#
#   executables        PCR0 (the enclave image file), PCR1 (kernel and
#                      bootstrap), PCR2 (the application), PCR8 (the
#                      image's signing certificate) and any PCR the
#                      enclave extends itself (5-7, 9-31): approved (2),
#                      the image is the enclave's whole code; else
#                      contraindicated (96). With none of them named, no
#                      claim (0) and a reason saying PCR0 was not compared.
#   configuration      PCR3, the parent instance's IAM role. A debug-mode
#                      enclave (PCR0-2 zero) is contraindicated whatever
#                      the values: its console is readable and its PCRs
#                      identify nothing.
#   instance_identity  PCR4, the parent instance's ID.
package assay.nitro

import data.assay.lib

code := [j | some p, j in input.comparisons; startswith(p, "pcrs."); not p in {"pcrs.3", "pcrs.4"}]

executables := code if {
	count(code) > 0
} else := [lib.no_values("nitro.pcrs.0", "pcrs.0", object.get(input.claims, ["pcrs", "0"], null))]

categories := {
	"executables": {"judgements": executables, "affirm": lib.approved},
	"configuration": {
		"judgements": array.concat(
			[input.comparisons[p] | some p in ["pcrs.3"]],
			[lib.finding(
				"nitro.debug", "debug", true, "contraindicated",
				"the enclave runs in debug mode (PCR0, PCR1 and PCR2 are zero): its console is readable by the parent and its PCRs do not identify the image",
			) |
				input.claims.debug == true
			],
		),
		"affirm": lib.approved,
	},
	"instance_identity": {"judgements": [input.comparisons[p] | some p in ["pcrs.4"]], "affirm": lib.approved},
}

decision := {"categories": categories}
