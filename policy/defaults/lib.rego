# Package assay.lib is what the built-in policies share, and what a
# custom policy may use too (import data.assay.lib); docs/policy.md
# documents it.
#
# A judgement is one reason of the output contract:
#   {"rule", "claim", "found", "allowed", "status", "message"}
# where allowed lists reference value entries of the input and status is
# the tier the judgement supports: affirming (the claim matched a
# reference value), contraindicated (it matched none, or a finding such
# as a debug TEE), none (nothing to compare it with).
#
# The engine compares every scalar claim that reference values name and
# puts the judgement in input.comparisons[path]; the built-in policies
# pick from those. compare below is the same comparison in Rego, for
# claims the engine does not compare (an element of a list) or values a
# policy derives itself. A policy runs on every attestation and OPA's
# evaluation is not cheap: the built-in policies use few rules and
# return their judgements by category ({"categories": ...}), which the
# engine turns into status, trust vector and reasons; decide is the same
# aggregation in Rego, for a policy that returns those itself.
package assay.lib

# AR4SI trustworthiness claim values (draft-ietf-rats-ar4si, section 2.3).
no_claim := 0

# Affirming: approved_rt, approved_config, genuine_hw, recognized_instance.
approved := 2

# Executables only: approved_boot, every executable loaded at boot was
# approved (launch and boot-time measurements say nothing about what ran
# later).
approved_boot := 3

# Warning tier: unsafe_config, unsafe_rt, unsafe_hw.
unsafe := 32

# Contraindicated tier: contraindicated_rt, unsupportable_config,
# contraindicated_hw, untrustworthy_instance.
contraindicated := 96

# named is the set of claim paths that reference values name, in any
# state: someone has said what those claims must be, so they are compared.
named contains p if some p, _ in input.reference_values

named contains p if some p, _ in input.revoked

named contains p if some p, _ in input.outside_window

# known is true when reference values name the claim path.
known(path) if named[path]

# known_paths returns the named claim paths under a prefix ("pcrs.").
known_paths(prefix) := {p | some p in named; startswith(p, prefix)}

# active returns the reference values that count for a claim path: active
# ones valid now (and, in the shadow evaluation, staged ones).
active(path) := object.get(input.reference_values, path, [])

# revoked returns the revoked and deprecated values of a claim path.
revoked(path) := object.get(input.revoked, path, [])

# outside_window returns the values of a claim path that would count but
# for their validity window (not yet valid, or expired).
outside_window(path) := object.get(input.outside_window, path, [])

# at returns the claim at a dotted path, or null. A numeric segment is an
# object key ("pcrs.sha256.7") or, failing that, an array index
# ("rtmr.2").
at(path) := v if {
	v := object.get(input.claims, split(path, "."), null)
	v != null
} else := object.get(input.claims, [index_or_key(s) | some s in split(path, ".")], null)

index_or_key(s) := to_number(s) if regex.match(`^(0|[1-9][0-9]*)$`, s)

else := s

# text renders a claim the way reference values write it: numbers in
# decimal, strings as they are, null (absent) as "".
text(x) := x if is_string(x)

else := format_int(x, 10) if is_number(x)

else := "" if is_null(x)

else := json.marshal(x)

# compare judges a claim against the reference values of its path. found
# is the claim as reference values write it (a string; text() turns a
# number into one), or null when the evidence lacks it. compare is
# undefined when no reference value names the path: the claim is then
# not compared (no_values says so where it matters).
compare(rule, path, found) := j if {
	named[path]
	hits := [e | some e in input.reference_values[path]; e.value == found]
	count(hits) > 0
	j := {
		"rule": rule, "claim": path, "found": found, "status": "affirming", "allowed": hits,
		"message": sprintf("%s matches reference value %s (%s)", [path, hits[0].id, origin(hits[0])]),
	}
} else := j if {
	named[path]
	j := {
		"rule": rule, "claim": path, "found": text(found), "status": "contraindicated",
		"allowed": active(path), "message": why_not(path, found),
	}
}

# why_not explains a mismatch: the claim is absent, or its value was
# revoked or deprecated, or is outside its validity window, or simply is
# not among the values that count.
why_not(path, found) := msg if {
	is_null(found)
	msg := sprintf("%s is absent from the evidence, but reference values name it; allowed: %s", [path, listing(active(path))])
} else := msg if {
	hits := [e | some e in revoked(path); e.value == found]
	count(hits) > 0
	e := hits[0]
	msg := sprintf("%s %s was %s: reference value %s (version %d, %s) no longer counts%s; allowed: %s", [path, text(found), e.state, e.id, e.version, origin(e), note(e), listing(active(path))])
} else := msg if {
	hits := [e | some e in outside_window(path); e.value == found]
	count(hits) > 0
	e := hits[0]
	msg := sprintf("%s %s matches reference value %s, which is valid only %s; allowed now: %s", [path, text(found), e.id, window(e), listing(active(path))])
} else := sprintf("%s %s matches no reference value that counts; allowed: %s", [path, text(found), listing(active(path))])

# no_values is the judgement for a claim no reference value names.
no_values(rule, path, found) := {
	"rule": rule, "claim": path, "found": text(found), "status": "none", "allowed": [],
	"message": sprintf("no reference values for %s: it was not compared", [path]),
}

# finding is a judgement that compares nothing (a debug TEE).
finding(rule, path, found, status, message) := {
	"rule": rule, "claim": path, "found": text(found), "status": status, "allowed": [],
	"message": message,
}

listing(es) := concat(", ", [sprintf("%s (%s)", [e.value, e.id]) | some e in es]) if count(es) > 0

else := "none (no reference value counts)"

origin(e) := sprintf("%s, by %s, from %s", [e.state, or_unknown(e.provenance.author), or_unknown(e.provenance.source)])

or_unknown(s) := s if s != ""

else := "unknown"

note(e) := sprintf(": %s", [e.provenance.note]) if e.provenance.note != ""

else := ""

window(e) := sprintf("from %s until %s", [or_open(e.not_before), or_open(e.not_after)])

or_open(s) := s if s != ""

else := "(open)"

# Statuses by severity: a decision's status is its worst judgement's, a
# category's claim its worst judgement's tier.
severity := {"none": 0, "affirming": 1, "warning": 2, "contraindicated": 3}

statuses := ["none", "affirming", "warning", "contraindicated"]

# decide builds the decision from judgements by trust vector category,
#   {"executables": {"judgements": [...], "affirm": approved_boot}, ...}:
# the status is the worst judgement's (none when all are none: the
# policy has no opinion and the verifier's status stands); a category's
# claim is contraindicated if a judgement in it is, unsafe if one is a
# warning, else its affirm value if one affirms; a category with no
# judgement, or only none, makes no claim.
decide(categories) := {
	"status": statuses[max({severity[j.status] | some c in categories; some j in c.judgements} | {0})],
	"trust_vector": {name: [no_claim, c.affirm, unsafe, contraindicated][max({severity[j.status] | some j in c.judgements})] |
		some name, c in categories
		count(c.judgements) > 0
	},
	"reasons": [j | some c in categories; some j in c.judgements],
}
