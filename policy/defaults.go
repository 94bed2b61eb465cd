package policy

import (
	"embed"
	"strings"
)

// The built-in policies, one Rego module per TEE kind, and the library
// they share (lib.rego, package assay.lib). docs/policy.md explains them.
//
//go:embed defaults/*.rego
var defaultFS embed.FS

// libName is the library module's name; it is not a policy.
const libName = "lib"

// Builtin returns the source of the built-in policies by name (snp, tdx,
// sgx, tpm, nitro, cca, azcvm) and of their shared library (lib), as
// embedded in the binary. The map is a fresh copy.
func Builtin() map[string]string {
	out := map[string]string{}
	ents, err := defaultFS.ReadDir("defaults")
	if err != nil {
		// The directory is embedded at build time; reading it cannot fail.
		panic(err)
	}
	for _, e := range ents {
		b, err := defaultFS.ReadFile("defaults/" + e.Name())
		if err != nil {
			panic(err)
		}
		out[strings.TrimSuffix(e.Name(), ".rego")] = string(b)
	}
	return out
}
