# Package assay.tpm is the default appraisal policy for TPM 2.0 quotes
# (claims: docs/tpm.md).
#
#   executables  every PCR that reference values name ("pcrs.sha256.7"),
#                in any bank: each must match one of its values. A named
#                PCR the quote does not cover is a mismatch. Approved boot
#                (3) when all match, else contraindicated (96). With no
#                PCR named, no claim (0) and a reason saying the PCRs were
#                not compared.
package assay.tpm

import data.assay.lib

# pcr_judgements are the comparisons of every named PCR. The Azure policy
# reuses them.
pcr_judgements := [j | some p, j in input.comparisons; startswith(p, "pcrs.")]

executables := pcr_judgements if {
	count(pcr_judgements) > 0
} else := [lib.no_values("tpm.pcrs", "pcrs", null)]

categories := {"executables": {"judgements": executables, "affirm": lib.approved_boot}}

decision := {"categories": categories}
