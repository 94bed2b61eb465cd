package kds_test

import (
	"context"
	"fmt"
	"time"

	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// A Client is the Getter that lets sevsnp.Verify fetch what a report does
// not carry, caching it on disk for the next appraisal.
func ExampleClient() {
	dir, err := kds.DefaultCacheDir()
	if err != nil {
		dir = "" // no disk cache
	}
	c := &kds.Client{CacheDir: dir, Timeout: 10 * time.Second}
	opts := sevsnp.Options{Collateral: c}

	// Or use it directly: the VCEK CRL for Milan.
	crl, err := c.CRL(context.Background(), sevsnp.Milan, sevsnp.KeyVCEK)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(opts.Collateral != nil, crl.Issuer.CommonName)
}
