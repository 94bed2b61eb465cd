// Package bootchain computes what a measured boot extends for the
// components of a boot chain.
//
// The Authenticode digest of a PE/COFF image (ParsePE, Image.Digest;
// Microsoft "Windows Authenticode Portable Executable Signature Format"
// 1.0) is what UEFI firmware and shim extend into PCR 4 (TDX: RTMR1) in
// an EV_EFI_BOOT_SERVICES_APPLICATION event when they load shim, grub,
// systemd-boot, a UKI or a kernel.
package bootchain
