package uefi

// Both logs end in padding when read from a fixed-size region (the ACPI
// CCEL area, a securityfs file of a firmware-sized buffer): 0x00 or 0xFF
// bytes after the last event.

// PaddingStarts reports whether an event position holds padding rather
// than an event: fewer than the 8 bytes of register index and event type,
// or those 8 bytes all 0x00 (index 0, EV_PREBOOT_CERT, which no current
// firmware logs) or all 0xFF.
func PaddingStarts(rest []byte) bool {
	if len(rest) < 8 {
		return true
	}
	allZero, allFF := true, true
	for _, c := range rest[:8] {
		allZero = allZero && c == 0x00
		allFF = allFF && c == 0xFF
	}
	return allZero || allFF
}

// FirstNonPadding returns the index of the first byte that is neither
// 0x00 nor 0xFF, or -1.
func FirstNonPadding(b []byte) int {
	for i, c := range b {
		if c != 0x00 && c != 0xFF {
			return i
		}
	}
	return -1
}
