# Package assay.tdx is the default appraisal policy for Intel TDX quotes
# (claims: docs/tdx-sgx.md).
#
#   executables    MRTD (the initial TD image: the virtual firmware) and
#                  RTMR0-3 (what firmware, boot loader and kernel extended
#                  at boot), each compared when reference values name it:
#                  approved boot (3) when all that are named match, else
#                  contraindicated (96). With none named, no claim (0) and
#                  a reason saying MRTD was not compared.
#   configuration  MRCONFIGID, MROWNER, MROWNERCONFIG and MRSERVICETD
#                  when named: approved (2), else contraindicated. A debug
#                  TD (TDATTRIBUTES.DEBUG) is contraindicated whatever the
#                  values: the host can read and change its state through
#                  the TDX module's debug interface.
#   hardware       MRSEAM and MRSIGNERSEAM (the TDX module) when named,
#                  and the TCB policy (input.tcb): accepted TCB statuses,
#                  the grace period after a TCB recovery, advisory allow
#                  and deny lists.
#
# The comparisons are the engine's (input.comparisons); see snp.rego.
package assay.tdx

import data.assay.lib

measured := [input.comparisons[p] | some p in ["mr_td", "rtmr.0", "rtmr.1", "rtmr.2", "rtmr.3"]]

categories := {
	"executables": {
		"judgements": array.concat(
			measured,
			[lib.no_values("tdx.mr_td", "mr_td", object.get(input.claims, "mr_td", null)) | count(measured) == 0],
		),
		"affirm": 3, # approved boot
	},
	"configuration": {
		"judgements": array.concat(
			[input.comparisons[p] | some p in ["mr_config_id", "mr_owner", "mr_owner_config", "mr_service_td"]],
			[lib.finding(
				"tdx.td_attributes.debug", "td_attributes.debug", true, "contraindicated",
				"the TD is a debug TD (TDATTRIBUTES.DEBUG = 1): the host can read and change its memory and registers",
			) |
				input.claims.td_attributes.debug == true
			],
		),
		"affirm": 2, # approved configuration
	},
	"hardware": {
		"judgements": array.concat([input.comparisons[p] | some p in ["mr_seam", "mr_signer_seam"]], input.tcb),
		"affirm": 2, # genuine (the expected TDX module)
	},
}

decision := {"categories": categories}
