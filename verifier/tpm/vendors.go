package tpm

// tpmVendors is the TCG TPM Vendor ID Registry (Family 1.2 and 2.0): the
// vendor ID a TPM reports in TPM_PT_MANUFACTURER and its EK certificate
// states as TPMManufacturer "id:XXXXXXXX", four ASCII characters (NUL or
// space padded) read as a big-endian uint32, and the vendor's name. Only
// entries the registry lists are here; an EK certificate of a vendor ID
// that is not is reported with its ID and no name, and does not fail for
// it: the chain to the vendor's CA is what vouches for the TPM.
var tpmVendors = map[uint32]string{
	0x414D4400: "AMD",                    // "AMD\0"
	0x41544D4C: "Atmel",                  // "ATML"
	0x4252434D: "Broadcom",               // "BRCM"
	0x4353434F: "Cisco",                  // "CSCO"
	0x464C5953: "Flyslice Technologies",  // "FLYS"
	0x524F4343: "Fuzhou Rockchip",        // "ROCC"
	0x474F4F47: "Google",                 // "GOOG"
	0x48504900: "HPI",                    // "HPI\0"
	0x48504500: "HPE",                    // "HPE\0"
	0x48495349: "Huawei",                 // "HISI"
	0x49424D00: "IBM",                    // "IBM\0"
	0x49465800: "Infineon",               // "IFX\0"
	0x494E5443: "Intel",                  // "INTC"
	0x4C454E00: "Lenovo",                 // "LEN\0"
	0x4D534654: "Microsoft",              // "MSFT"
	0x4E534D20: "National Semiconductor", // "NSM "
	0x4E545A00: "Nationz",                // "NTZ\0"
	0x4E544300: "Nuvoton Technology",     // "NTC\0"
	0x51434F4D: "Qualcomm",               // "QCOM"
	0x534D534E: "Samsung",                // "SMSN"
	0x534E5300: "Sinosun",                // "SNS\0"
	0x534D5343: "SMSC",                   // "SMSC"
	0x53544D20: "STMicroelectronics",     // "STM "
	0x54584E00: "Texas Instruments",      // "TXN\0"
	0x57454300: "Winbond",                // "WEC\0"
}

// VendorName returns the TCG registry's name of a TPM vendor ID, or ""
// when the registry (as this package holds it) has none.
func VendorName(id uint32) string { return tpmVendors[id] }

// vendorASCII renders a vendor ID's four bytes as text, dropping NUL and
// trailing space padding; "" when a byte is not printable ASCII.
func vendorASCII(id uint32) string {
	b := []byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
	end := len(b)
	for end > 0 && (b[end-1] == 0 || b[end-1] == ' ') {
		end--
	}
	for _, c := range b[:end] {
		if c < 0x21 || c > 0x7e {
			return ""
		}
	}
	return string(b[:end])
}
