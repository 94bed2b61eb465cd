// Package bootchain predicts the boot-loader registers of a measured
// boot — TPM PCRs 4, 8 and 9, TDX RTMR1 and RTMR2 — from the components
// of a new boot chain and the event log of a known-good boot of the same
// platform.
//
// # What is computed
//
//   - The Authenticode digest of a PE/COFF image (ParsePE, Image.Digest;
//     Microsoft "Windows Authenticode Portable Executable Signature
//     Format" 1.0): what UEFI firmware and shim extend into PCR 4 (TDX:
//     RTMR1) in an EV_EFI_BOOT_SERVICES_APPLICATION event when they load
//     shim, grub, systemd-boot, a UKI or a kernel.
//   - A prediction (Predict): the reference log's events with the
//     digests of the new components put in place of the logged ones — the
//     n-th boot application, the kernel command line as grub and the
//     Linux EFI stub measure it, the initrd — replayed. The log comes in
//     as a Log, which internal/cli builds with the parsers of
//     internal/eventlog/tcg and ccel: like every measure package, this
//     one uses the standard library alone (its tests check its replay
//     against those packages').
//
// # Command line conventions
//
// Found in the corpus logs and checked against every log that has them
// (GCE Ubuntu 21.04/24.04, RHEL 8, COS 85-113, Fedora/RHEL/RHCOS and
// QEMU logs of galmasi/python3-uefi-eventlog, Alibaba Cloud Linux 3 on
// TDX): grub measures the command line it gives the kernel — the "linux"
// command's arguments, kernel path first, an argument with a space in
// double quotes, \ ' and " escaped with a backslash — as EV_IPL event
// data "kernel_cmdline: " (upstream) or "grub_kernel_cmdline " (RHEL)
// plus the text and a NUL, with a digest of the text alone, no NUL, into
// PCR 8 (RTMR2). It also measures the "linux" command itself, arguments
// unquoted and joined by spaces: "grub_cmd: linux ..." hashed without
// the NUL (upstream), "grub_cmd linux ..." hashed with it (RHEL). A
// kernel grub starts through LoadImage (grub 2.12) has the Linux EFI
// stub measure its LoadOptions into PCR 9 (RTMR2) as an EV_EVENT_TAG
// 0x8F3B22ED: "BOOT_IMAGE=" and grub's command line, UTF-16LE, no NUL.
//
// # What comes from the reference log
//
// Everything not replaced: the firmware's registers (PCR 0-3, 5-7, TDX
// RTMR0; RTMR3 and PCRs 10 and above are written at run time) and every
// event of the boot-loader registers that no component rebuilds
// (separators, EV_EFI_ACTION strings, the GPT, grub's other commands and
// the files it reads). The prediction is therefore only as good as the
// assumption that the new boot differs from the reference one in the
// replaced components alone; Prediction marks each register as predicted
// or copied from the reference log.
//
// Where an event is rebuilt from a component, the model is first applied
// to what the reference log says was measured (the logged command line)
// and must reproduce the logged digest; if it does not, the prediction
// fails with ErrUnsupported rather than guess. An EFI image or an initrd
// cannot be checked that way: its digest is taken from the file given.
//
// # What is not modelled
//
// shim's MokList, MokListX, MokListTrusted and SBAT events (PCR 14, PCR 7
// and their RTMR equivalents), the PCR 7 authority events of image
// verification, grub's measurements of the files it reads (PCR 9: its
// configuration, modules, the kernel file — only the initrd file is
// replaced), grub commands other than the one that loads the kernel (a
// distribution grub.cfg that tests $kernelopts measures the old options
// in a "[ -z ... ]" command, which stays), LoadOptions a loader other
// than grub set (the log does not spell them out), a UKI's sections
// (systemd-stub, PCR 11) and systemd-stub's PCR 12/13 events. A
// component whose measurement is one of those is refused with
// ErrUnsupported.
package bootchain
