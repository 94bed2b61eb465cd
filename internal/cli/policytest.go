package cli

import (
	"context"
	"fmt"
	"io"
)

// runPolicyTest is a placeholder replaced by its implementation.
func runPolicyTest(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "assay: not implemented yet")
	return ExitUsage
}
