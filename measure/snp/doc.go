// Package snp computes the AMD SEV-SNP launch measurement (the
// MEASUREMENT field of an attestation report) that a guest started from
// a given OVMF image, kernel, initrd, command line, vCPU count and type
// and guest features will have, so that a reference value can be derived
// from the artifacts rather than copied from a first boot.
//
// The computation replays what the hypervisor asks the AMD Secure
// Processor to measure: every SNP_LAUNCH_UPDATE extends the launch digest
// with a PAGE_INFO structure (SEV-SNP Firmware ABI Specification 1.55,
// §8.17 SNP_LAUNCH_UPDATE, Table 67 "Layout of the PAGE_INFO Structure"):
//
//	digest' = SHA-384(digest || contents || length=0x70 || page type ||
//	                  is_imi || vmpl3/2/1 perms || reserved || GPA)
//
// in this order: the firmware volume page by page (type NORMAL), the
// sections OVMF's SEV metadata ("ASEV") declares — zero pages, the
// secrets page, the CPUID page, the SVSM calling-area page and, for a
// direct kernel boot, the page holding the SEV hashes table with the
// SHA-256 of the kernel, initrd and command line (QEMU's
// sev_add_kernel_loader_hashes) — and last one VMSA page per vCPU, whose
// register state depends on the reset vector, the vCPU's CPUID signature,
// SEV_FEATURES and the VMM (QEMU, AWS EC2 and Google Compute Engine set a
// few registers differently).
//
// ParseOVMF reads the image: the GUIDed footer table at its end (OVMF
// OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm), the SEV-ES reset block
// that holds the APs' reset vector, the SEV hashes table location, and
// the SEV metadata (OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm). It does
// no I/O; LaunchDigest is pure.
//
// What the result does not prove: the digest covers the initial guest
// memory and register state only. What the firmware or kernel does
// afterwards is the business of runtime measurements (vTPM, RTMRs). The
// page contents the hypervisor supplies but the firmware never measures
// (SNP_SEC_MEM on GCE, where they are "unmeasured") are not covered.
package snp
