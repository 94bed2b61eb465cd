// Command assay verifies remote attestation evidence. See README.md and
// docs/cli.md for the contract: subcommands, flags, exit codes and the JSON
// result.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/assay-dev/assay/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
