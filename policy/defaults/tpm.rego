# Package assay.tpm is the default appraisal policy for TPM 2.0 quotes
# (claims: docs/tpm.md).
#
#   executables    every PCR that reference values name ("pcrs.sha256.7"),
#                  in any bank: each must match one of its values. A named
#                  PCR the quote does not cover is a mismatch. And, when
#                  reference values name event_log.boot_applications.BANK,
#                  every boot application the event log records (PCR 4:
#                  boot manager, shim, grub, UKI or kernel, by PE
#                  Authenticode digest) must be one of them. Approved boot
#                  (3) when all match, else contraindicated (96). With
#                  nothing named, no claim (0) and a reason saying the
#                  PCRs were not compared.
#   configuration  event_log.secure_boot when named (Secure Boot on or
#                  off, as PCR 7 recorded it), and, when reference values
#                  name event_log.kernel_cmdline, every kernel command
#                  line the log records must equal one of them; a command
#                  line whose logged digest is not the hash of its text
#                  cannot be judged and is contraindicated. Approved (2)
#                  when all match, else contraindicated.
#
# The event log's claims count only because the verifier replayed the log
# to the quoted PCRs (check eventlog.replay); without a log they are
# absent, and a named event-log claim is then contraindicated.
package assay.tpm

import data.assay.lib

# pcr_judgements are the comparisons of every named PCR. The Azure policy
# reuses them.
pcr_judgements := [j | some p, j in input.comparisons; startswith(p, "pcrs.")]

log := object.get(input.claims, "event_log", {})

# app_judgements compare every boot application with the named banks'
# values.
app_judgements := [j |
	some bank in ["sha1", "sha256", "sha384"]
	path := concat(".", ["event_log.boot_applications", bank])
	lib.named[path]
	some j in apps_in(bank, path)
]

apps_in(bank, path) := [lib.finding(
	"tpm.event_log.boot_applications", path, null, "contraindicated",
	sprintf("reference values name %s, but the evidence records no boot application (no event log, or none loaded)", [path]),
)] if {
	count(object.get(log, "boot_applications", [])) == 0
} else := [j |
	some a in log.boot_applications
	j0 := lib.compare("tpm.event_log.boot_applications", path, object.get(a.digests, bank, null))
	j := object.union(j0, {"message": sprintf("boot application %s (event %d, PCR %d): %s", [
		object.get(a, "file", "(no file path)"), a.num, a.pcr, j0.message,
	])})
]

# cmdline_judgements judge every logged kernel command line.
cmdline_judgements := [] if {
	not lib.named["event_log.kernel_cmdline"]
} else := [lib.finding(
	"tpm.event_log.kernel_cmdline", "event_log.kernel_cmdline", null, "contraindicated",
	"reference values name kernel command lines, but the evidence records none (no event log, or the boot loader logged none)",
)] if {
	count(object.get(log, "kernel_cmdline", [])) == 0
} else := [cmdline(m) | some m in log.kernel_cmdline]

cmdline(m) := lib.finding(
	"tpm.event_log.kernel_cmdline", "event_log.kernel_cmdline", object.get(m, "text", null), "contraindicated",
	sprintf("event %d (%s, PCR %d): the logged digest is not the hash of the command line text, so the text cannot be judged", [m.num, m.source, m.pcr]),
) if {
	not m.text_verified
} else := j if {
	j0 := lib.compare("tpm.event_log.kernel_cmdline", "event_log.kernel_cmdline", m.text)
	j := object.union(j0, {"message": sprintf("event %d (%s, PCR %d): %s", [m.num, m.source, m.pcr, j0.message])})
}

compared := array.concat(pcr_judgements, app_judgements)

executables := compared if {
	count(compared) > 0
} else := [lib.no_values("tpm.pcrs", "pcrs", null)]

categories := {
	"executables": {"judgements": executables, "affirm": lib.approved_boot},
	"configuration": {
		"judgements": array.concat([j | j := input.comparisons["event_log.secure_boot"]], cmdline_judgements),
		"affirm": lib.approved,
	},
}

decision := {"categories": categories}
