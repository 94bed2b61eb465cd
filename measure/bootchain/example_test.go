package bootchain_test

import (
	"crypto"
	"fmt"
	"os"

	"github.com/assay-dev/assay/measure/bootchain"
)

// fwupd reads Debian's signed fwupdx64.efi (testdata/README.md).
func fwupd() (*bootchain.Image, error) {
	b, err := os.ReadFile("testdata/fwupdx64.efi.signed")
	if err != nil {
		return nil, err
	}
	return bootchain.ParsePE(b)
}

// The Authenticode SHA-256 of Debian's signed fwupd EFI application: the
// digest its signature carries, and what firmware extends into PCR 4
// when it loads the image.
func ExampleParsePE() {
	im, err := fwupd()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%x\n", im.Digest(crypto.SHA256))
	// Output: 54563dba7fe706fab763168771637e02f82bf776e47fc16c96b87f3ecdb11958
}

// A boot of a one-event log, with the boot application replaced.
func ExamplePredict() {
	im, err := fwupd()
	if err != nil {
		fmt.Println(err)
		return
	}
	log := &bootchain.Log{Format: "tcg", Banks: []crypto.Hash{crypto.SHA256}, Events: []bootchain.Event{{
		Num: 1, Register: 4, Type: 0x80000003, // EV_EFI_BOOT_SERVICES_APPLICATION
		Digests: map[crypto.Hash][]byte{crypto.SHA256: make([]byte, 32)},
	}}}
	p, err := bootchain.Predict(log, bootchain.Components{EFI: []*bootchain.Image{im}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range p.Registers {
		fmt.Println(r.Bank, r.Name, r.From, r.Changed)
	}
	// Output: sha256 pcr4 prediction true
}
