# Package assay.sgx is the default appraisal policy for Intel SGX quotes
# (claims: docs/tdx-sgx.md).
#
#   executables    the enclave's identity: MRENCLAVE (this exact enclave)
#                  OR MRSIGNER (any enclave signed by this key). One
#                  matching reference value of either is enough; when
#                  values are named and none matches, contraindicated
#                  (96). When MRSIGNER is how it is pinned, pin ISVPRODID
#                  too (isv_prod_id values must match) and give a minimum
#                  ISVSVN (isv_svn: the claim must be at least the highest
#                  value that counts). Approved (2): the measurement
#                  covers the enclave's whole code. With neither named, no
#                  claim (0) and a reason saying MRENCLAVE was not
#                  compared.
#   configuration  CONFIGID when named. A debug enclave
#                  (ATTRIBUTES.DEBUG) is contraindicated whatever the
#                  values: its memory can be read and changed with the
#                  debug instructions (EDBGRD, EDBGWR).
#   hardware       the TCB policy (input.tcb): accepted TCB statuses, the
#                  grace period after a TCB recovery, advisory allow and
#                  deny lists: approved (2), else contraindicated.
package assay.sgx

import data.assay.lib

identity := [input.comparisons[p] | some p in ["mr_enclave", "mr_signer"]]

matched := [j | some j in identity; j.status == "affirming"]

# Either identity suffices: when one matches, the other's mismatch is no
# objection and is not reported.
code := matched if {
	count(matched) > 0
} else := identity if {
	count(identity) > 0
} else := [lib.no_values("sgx.mr_enclave", "mr_enclave", object.get(input.claims, "mr_enclave", null))]

categories := {
	"executables": {
		"judgements": array.concat(code, [input.comparisons[p] | some p in ["isv_prod_id", "isv_svn"]]),
		"affirm": lib.approved,
	},
	"configuration": {
		"judgements": array.concat(
			[input.comparisons[p] | some p in ["config_id"]],
			[lib.finding(
				"sgx.attributes.debug", "attributes.debug", true, "contraindicated",
				"the enclave is a debug enclave (ATTRIBUTES.DEBUG = 1): its memory can be read and changed",
			) |
				input.claims.attributes.debug == true
			],
		),
		"affirm": lib.approved,
	},
	"hardware": {"judgements": input.tcb, "affirm": lib.approved},
}

decision := {"categories": categories}
