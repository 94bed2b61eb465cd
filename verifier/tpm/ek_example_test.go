package tpm_test

import (
	"fmt"

	"github.com/assay-dev/assay/verifier/tpm"
)

// The TPM an EK certificate names, from its subjectAltName (VerifyEK
// checks the rest: the chain to the TPM vendor's CA and the key).
func ExampleParseEKSAN() {
	san := tpm.MarshalEKSAN(&tpm.TPMIdentity{Manufacturer: "id:494E5443", Model: "SPT", Version: "id:00020000"})
	id, err := tpm.ParseEKSAN(san)
	if err != nil {
		fmt.Println(err)
		return
	}
	vid, err := id.VendorID()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%08X %s, model %s, version %s\n", vid, tpm.VendorName(vid), id.Model, id.Version)
	// Output:
	// 494E5443 Intel, model SPT, version id:00020000
}
