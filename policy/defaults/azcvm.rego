# Package assay.azcvm is the default appraisal policy for Azure
# confidential VMs (claims: docs/azure.md): the hardware report's claims,
# inline, plus the HCL's (azure) and the vTPM's PCRs (pcrs).
#
# The hardware part is the SNP or TDX default policy, over reference
# values written for tee "azcvm". On Azure, MEASUREMENT or MRTD measures
# the paravisor (HCL) that Microsoft ships, not the guest: the guest's
# boot chain is in the vTPM's PCRs, compared as the TPM policy does
# (every named PCR must match) and counted under executables.
package assay.azcvm

import data.assay.lib
import data.assay.snp
import data.assay.tdx
import data.assay.tpm

hardware := tdx.categories if {
	input.tee == "tdx"
} else := snp.categories

pcrs := tpm.pcr_judgements if {
	count(tpm.pcr_judgements) > 0
} else := [lib.no_values("azcvm.pcrs", "pcrs", null)]

categories := object.union(hardware, {"executables": {
	"judgements": array.concat(hardware.executables.judgements, pcrs),
	"affirm": lib.approved_boot,
}})

decision := {"categories": categories}
