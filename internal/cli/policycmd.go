package cli

import (
	"context"
	"fmt"
	"io"
)

const policyUsage = `usage: assay policy COMMAND [flags]

commands:
  test          appraise evidence or recorded appraisals under a proposed policy and list the verdicts that change
  import-corim  convert a CoRIM (unsigned or COSE-signed) into reference values
`

// runPolicy dispatches "assay policy" subcommands; each lives in its own
// file (policytest.go, policycorim.go).
func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return ExitUsage
	}
	switch args[0] {
	case "test":
		return runPolicyTest(ctx, args[1:], stdout, stderr)
	case "import-corim":
		return runPolicyImportCoRIM(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, policyUsage)
		return 0
	}
	fmt.Fprintf(stderr, "assay policy: unknown command %q\n\n%s", args[0], policyUsage)
	return ExitUsage
}
