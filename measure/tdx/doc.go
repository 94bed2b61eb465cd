// Package tdx computes the Intel TDX MRTD (the build-time measurement of a
// trust domain) that a TD booted from a given TDVF image will report.
//
// MRTD is one SHA-384 over the records the TDX module absorbs while the
// VMM builds the TD (Intel TDX Module Base Architecture Specification,
// "Measurement and Attestation", TDH.MEM.PAGE.ADD and TDH.MR.EXTEND):
//
//   - TDH.MEM.PAGE.ADD: a 128-byte block, "MEM.PAGE.ADD" at offset 0 and
//     the page's GPA (UINT64) at offset 16, the rest zero;
//   - TDH.MR.EXTEND of a 256-byte chunk: a 128-byte block, "MR.EXTEND"
//     at offset 0 and the chunk's GPA at offset 16, followed by the chunk
//     itself (two further 128-byte blocks).
//
// Which pages are added and which extended comes from the TDVF metadata
// (Intel TDX Virtual Firmware Design Guide §11 "TDVF Metadata"): the
// footer table entry e47a6535-984a-4798-865e-4685a7bf8ec2 gives the
// offset from the end of the image of the "TDVF" descriptor, whose
// sections (BFV, CFV, TD_HOB, TempMem, PermMem, Payload, PayloadParam)
// each name a file range, a guest-physical range and attributes: MR.EXTEND
// (bit 0, extend the contents) and PAGE.AUG (bit 1, added later by
// TDH.MEM.PAGE.AUG and never measured).
//
// The order of the records is the VMM's: upstream Linux KVM
// (KVM_TDX_INIT_MEM_REGION with KVM_TDX_MEASURE_MEMORY_REGION) adds each
// page and immediately extends its sixteen chunks (OrderPerPage); some
// older TDX host stacks added all of a section's pages before extending
// any (OrderPerSection). The two give different MRTDs for the same image.
//
// ParseTDVF reads the image without I/O; MRTD is pure. What MRTD does not
// cover: the TD's attributes, XFAM and configuration (reported in their
// own fields), and everything measured later into the RTMRs (the TD HOB,
// the configuration firmware volume's variables, ACPI tables, the kernel).
package tdx
