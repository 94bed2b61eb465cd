package nitro_test

import (
	"fmt"
	"os"

	"github.com/assay-dev/assay/verifier/nitro"
)

// Verify a recorded document at its own timestamp: its signing
// certificate lived about three hours.
func ExampleVerify() {
	raw, err := os.ReadFile("testdata/veracruz-2022-11.cbor")
	if err != nil {
		panic(err)
	}
	d, err := nitro.Parse(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, checks, err := nitro.Verify(d, nitro.Options{Now: d.Time, Nonce: d.Nonce})
	for _, c := range checks {
		fmt.Println(c.Name, c.OK)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Claims.ModuleID)
	fmt.Println("PCR0", v.Claims.PCRs[0][:16]+"…")
	fmt.Println((nitro.Policy{}).Apply(v.Claims)[0].Detail)
	// Output:
	// chain.root true
	// chain.intermediate true
	// chain.leaf true
	// signature true
	// timestamp true
	// nonce true
	// i-04fd167167daacf3b-enc01845e97d0b3eb4e
	// PCR0 22f9e1c949208da5…
	// PCR0-2 are not all zero: the enclave does not run in debug mode
}
