# Package assay.cca is the default appraisal policy for Arm CCA
# attestation tokens (claims: docs/cca.md).
#
#   executables        the realm's RIM (realm.initial_measurement: the
#                      realm's initial contents) and REM0-3
#                      (realm.extensible_measurements.N: what the realm
#                      extended since), each compared when reference
#                      values name it: approved boot (3) when all named
#                      match, else contraindicated (96). With none named,
#                      no claim (0) and a reason saying the RIM was not
#                      compared.
#   configuration      realm.personalization_value when named.
#   hardware           platform.implementation_id when named, and the
#                      platform's software components: with reference
#                      values for platform.sw_components, every component's
#                      measurement_value must be one of them (firmware the
#                      values do not list is contraindicated).
#   instance_identity  platform.instance_id when named.
package assay.cca

import data.assay.lib

measured := [input.comparisons[p] | some p in [
	"realm.initial_measurement",
	"realm.extensible_measurements.0", "realm.extensible_measurements.1",
	"realm.extensible_measurements.2", "realm.extensible_measurements.3",
]]

executables := measured if {
	count(measured) > 0
} else := [lib.no_values(
	"cca.realm.initial_measurement", "realm.initial_measurement",
	object.get(input.claims, ["realm", "initial_measurement"], null),
)]

components := object.get(input.claims, ["platform", "sw_components"], [])

# The engine compares scalar claims only: each reported component is
# compared here, its type and version in the message.
sw_components := [] if {
	not lib.named["platform.sw_components"]
} else := [lib.finding(
	"cca.platform.sw_components", "platform.sw_components", null, "contraindicated",
	"reference values list platform software components, but the platform token reports none",
)] if {
	count(components) == 0
} else := [j |
	some c in components
	j0 := lib.compare("cca.platform.sw_components", "platform.sw_components", c.measurement_value)
	j := object.union(j0, {"message": sprintf("component %s %s: %s", [
		object.get(c, "measurement_type", "(untyped)"),
		object.get(c, "version", "(no version)"),
		j0.message,
	])})
]

categories := {
	"executables": {"judgements": executables, "affirm": lib.approved_boot},
	"configuration": {"judgements": [input.comparisons[p] | some p in ["realm.personalization_value"]], "affirm": lib.approved},
	"hardware": {
		"judgements": array.concat([input.comparisons[p] | some p in ["platform.implementation_id"]], sw_components),
		"affirm": lib.approved,
	},
	"instance_identity": {"judgements": [input.comparisons[p] | some p in ["platform.instance_id"]], "affirm": lib.approved},
}

decision := {"categories": categories}
