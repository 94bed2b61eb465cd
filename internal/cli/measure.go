package cli

import (
	"context"
	"fmt"
	"io"
)

// runMeasure is a placeholder replaced by its implementation.
func runMeasure(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "assay: not implemented yet")
	return ExitUsage
}
