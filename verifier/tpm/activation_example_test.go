package tpm_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/assay-dev/assay/verifier/tpm"
)

// The verifier's side of credential activation: a challenge for an AK
// (given by its Name) against an EK, in tpm2-tools' format, and the check
// of what the attester's TPM2_ActivateCredential returned.
func ExampleMakeCredential() {
	ekKey, _ := rsa.GenerateKey(rand.Reader, 2048) // the EK: from its certificate, in practice
	akName := append([]byte{0x00, 0x0b}, make([]byte, 32)...)
	secret := make([]byte, 32)
	rand.Read(secret)
	blob, encSecret, err := tpm.MakeCredential(&ekKey.PublicKey, akName, secret)
	if err != nil {
		fmt.Println(err)
		return
	}
	credOut := tpm.MarshalCredentialFile(blob, encSecret) // for tpm2_activatecredential -i
	fmt.Println(len(credOut) > 0)
	recovered := secret // what tpm2_activatecredential -o wrote
	fmt.Println(tpm.CheckActivation(secret, recovered))
	// Output:
	// true
	// <nil>
}
