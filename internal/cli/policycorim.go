package cli

import (
	"context"
	"fmt"
	"io"
)

// runPolicyImportCoRIM is a placeholder replaced by its implementation.
func runPolicyImportCoRIM(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "assay: not implemented yet")
	return ExitUsage
}
