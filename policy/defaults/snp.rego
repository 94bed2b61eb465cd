# Package assay.snp is the default appraisal policy for AMD SEV-SNP
# attestation reports (claims: docs/sev-snp.md).
#
#   executables        MEASUREMENT, the launch digest of the guest's
#                      initial memory and VMSAs (firmware; with measured
#                      direct boot also kernel, initrd and command line).
#                      With reference values it must match one: approved
#                      boot (3), else contraindicated (96). Without any,
#                      no claim (0) and a reason saying it was not
#                      compared; the status is then the verifier's.
#   configuration      HOST_DATA and the ID block's digests and IDs, each
#                      compared when reference values name it: approved
#                      (2), else contraindicated. POLICY.DEBUG set is
#                      contraindicated whatever the values: the hypervisor
#                      can read and change a debug guest's memory
#                      (SNP_DBG_DECRYPT, SNP_DBG_ENCRYPT).
#   instance_identity  CHIP_ID, when reference values pin processors.
#   hardware           the TCB minimums of the reported, committed and
#                      launch TCB (input.tcb: tcb_policies in the reference
#                      values): approved (2) when every component is at
#                      least its minimum, else contraindicated.
#
# The comparisons are the engine's (input.comparisons: a claim that
# reference values name, against the values that count). The policy is
# one rule, as every rule costs time on every attestation.
package assay.snp

import data.assay.lib

categories := {
	"executables": {
		"judgements": array.concat(
			[j | j := input.comparisons.measurement],
			[lib.no_values("snp.measurement", "measurement", object.get(input.claims, "measurement", null)) |
				not input.comparisons.measurement
			],
		),
		"affirm": 3, # approved boot
	},
	"configuration": {
		"judgements": array.concat(
			[input.comparisons[p] | some p in ["host_data", "id_key_digest", "author_key_digest", "family_id", "image_id"]],
			[lib.finding(
				"snp.policy.debug", "policy.debug", true, "contraindicated",
				"the guest policy allows debugging (POLICY.DEBUG = 1): the hypervisor can read and change guest memory",
			) |
				input.claims.policy.debug == true
			],
		),
		"affirm": 2, # approved configuration
	},
	"instance_identity": {
		"judgements": [j | j := input.comparisons.chip_id],
		"affirm": 2, # recognized instance
	},
	"hardware": {
		"judgements": input.tcb,
		"affirm": 2, # genuine hardware at the minimum TCB
	},
}

decision := {"categories": categories}
