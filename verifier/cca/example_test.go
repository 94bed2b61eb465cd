package cca_test

import (
	"fmt"
	"os"
	"time"

	"github.com/assay-dev/assay/verifier/cca"
)

// Verify a TF-RMM token (made on the Arm FVP simulator with test keys)
// with the CPAK TF-RMM ships beside it.
func ExampleVerify() {
	b, _ := os.ReadFile("testdata/tf-rmm-cca-token.cbor")
	tok, err := cca.Parse(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	key, _ := os.ReadFile("testdata/tf-rmm-cca-platform.pub")
	ends, _, err := cca.ParseEndorsements(key, "tf-rmm-cca-platform.pub")
	if err != nil {
		fmt.Println(err)
		return
	}
	claims, checks, err := cca.Verify(tok, cca.Options{
		Endorsements: ends,
		Now:          func() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) },
	})
	for _, c := range checks {
		fmt.Println(c.Name, c.OK, c.Skipped)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(claims.Platform.LifecycleState, claims.Realm.HashAlgoID, claims.RealHardware == nil)
	// Output:
	// realm.signature true false
	// platform.signature true false
	// platform.endorsement true false
	// binding true false
	// nonce true true
	// secured sha-256 true
}
