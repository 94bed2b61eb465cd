package tcg

import (
	"crypto"
	"fmt"
)

// BootAggregate is the boot_aggregate measurement of an IMA list: the
// digest IMA records at its start over the TPM's boot PCRs
// (security/integrity/ima/ima_init.c ima_add_boot_aggregate,
// ima_crypto.c ima_calc_boot_aggregate).
type BootAggregate struct {
	Num     int         // the entry's position
	Alg     crypto.Hash // the digest's algorithm; 0 when Go has none
	AlgName string      // as the entry names it ("sha256")
	Digest  []byte
}

// FindBootAggregate returns the first boot_aggregate entry among the
// first n entries (all when n <= 0 or beyond the list); false when there
// is none.
func (l *IMALog) FindBootAggregate(n int) (BootAggregate, bool) {
	if n <= 0 || n > len(l.Entries) {
		n = len(l.Entries)
	}
	for i := 0; i < n; i++ {
		e := &l.Entries[i]
		f, ok := fileOf(e)
		if !ok || f.path != "boot_aggregate" {
			continue
		}
		return BootAggregate{Num: e.Num, Alg: f.alg, AlgName: f.algName, Digest: f.digest}, true
	}
	return BootAggregate{}, false
}

// BootAggregateDigest is what IMA records as boot_aggregate for PCR
// values (index -> value) of one bank hashed with h: the hash of PCRs
// 0-7 concatenated, and, since Linux 5.8, of PCRs 0-9 for any hash but
// SHA-1 ("Registers 8-9 are only included in non-SHA1 boot_aggregate
// digests to avoid ambiguity", ima_calc_boot_aggregate_tfm). upTo is 7
// or 9; an absent PCR is an error.
func BootAggregateDigest(h crypto.Hash, pcrs map[int][]byte, upTo int) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("boot_aggregate: hash %v is not available", h)
	}
	w := h.New()
	for i := 0; i <= upTo; i++ {
		v, ok := pcrs[i]
		if !ok {
			return nil, fmt.Errorf("boot_aggregate: PCR %d is not given", i)
		}
		w.Write(v)
	}
	return w.Sum(nil), nil
}
