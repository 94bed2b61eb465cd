package pcs_test

import (
	"context"
	"fmt"
	"time"

	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/dcap"
)

// A Client is the dcap.Getter that fetches the Intel collateral a quote
// does not carry, caching it on disk until its nextUpdate.
func ExampleClient() {
	dir, err := pcs.DefaultCacheDir()
	if err != nil {
		dir = "" // no disk cache
	}
	var g dcap.Getter = &pcs.Client{CacheDir: dir, Timeout: 10 * time.Second}

	// The TDX TCB info for FMSPC B0C06F000000 and its issuer chain, for
	// the verifier to check against the Intel SGX Root CA.
	body, chain, err := g.TCBInfo(context.Background(), true, [6]byte{0xB0, 0xC0, 0x6F})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(body) > 0, len(chain) > 0)
}
