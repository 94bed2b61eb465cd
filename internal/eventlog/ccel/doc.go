// Package ccel reads the Confidential Computing event log (CCEL) of an
// Intel TDX guest, replays it into RTMR values, and decodes its events
// into claims.
//
// # Inputs
//
//   - The log area ("CCEL data", /sys/firmware/acpi/tables/data/CCEL):
//     a TCG crypto-agile event log (TCG PC Client Platform Firmware
//     Profile (PFP) 1.06 section 10; UEFI 2.10 section 38.4 for the CC
//     variant). Its first event is the SHA-1-format EV_NO_ACTION "Spec ID
//     Event03", whose digest sizes say how to read the TCG_PCR_EVENT2
//     entries after it. The PCRIndex field carries the CC measurement
//     register index: 0 = MRTD, 1..4 = RTMR0..3 (EDK2
//     MdePkg/Include/Protocol/CcMeasurement.h, TDX_MR_INDEX_*). A log
//     area is usually dumped whole, up to LAML, so the log is followed by
//     0x00 or 0xFF fill; Parse stops there and refuses fill followed by
//     anything else. See Parse.
//   - The ACPI CCEL table (ACPI 6.5 section 5.2.34,
//     /sys/firmware/acpi/tables/CCEL): 56 bytes that say where the log
//     area is (LASA) and how long (LAML). ParseACPITable describes it;
//     it is not evidence of anything.
//
// Sniff tells the two apart by their first bytes.
//
// # What is verified
//
// Compare replays the log — RTMR[i] = SHA-384(RTMR[i] || digest) from 48
// zero bytes, for every event with MR index 1..4 except EV_NO_ACTION —
// and compares the four values with the RTMRs of a TD quote. A mismatch
// names each RTMR that differs and the event from which its replay can no
// longer reach the quoted value (see RTMRMismatch for what that can and
// cannot say).
//
// # What is trusted
//
// Nothing in the log by itself. Its digests are tied to the hardware only
// through RTMR values taken from a quote whose signature, chain and TCB
// the caller (verifier/tdx) has verified; until Compare has returned nil
// against such values, the log and its claims are unauthenticated input.
//
// # What the log does not prove
//
//   - MRTD (MR index 0) is measured by the TDX module at build time and is
//     not replayed here; events with MR index 0 (EV_NO_ACTION headers such
//     as "SP800-155 Event3") are not bound by anything.
//   - A replay match binds each event's digest, not its data. Claims marks
//     where the log itself shows the digest is the hash of the decoded
//     content (data_verified, text_verified: UEFI variables, EV_SEPARATOR,
//     EV_EFI_ACTION, grub's commands and kernel command line, AAEL
//     entries); elsewhere (boot application device paths, firmware blob
//     descriptions, the Linux EFI stub's tags, UKI sections) the digest is
//     of something outside the log — an image, a file, a ramdisk — and the
//     text beside it is the firmware's description, which a policy must
//     not trust on its own: match the digest against a reference value.
//   - A match says what was extended, not that it is good: which shim,
//     grub, kernel or command line is acceptable is the policy's call.
//   - RTMR3 is extendable at run time by guest software; a log that ends
//     before the quote was taken, or an extension that never reached the
//     log, is a mismatch, reported as such.
//   - Logs with no SHA-384 bank (Hygon CSV logs, SM3 only) parse and
//     decode, but Compare refuses them with ErrUnsupported.
//
// # Relation to go-eventlog
//
// The parser is written here, on the standard library, rather than
// wrapping github.com/google/go-eventlog v0.0.2 (its tcg and ccel
// packages), because that version: treats only a 0xFFFFFFFF MR index as
// padding, so a zero-filled log area reads as a run of empty events or
// fails; refuses logs without a SHA-1, SHA-256 or SHA-384 bank (the Hygon
// CSV sample); reports a failed replay as the list of bad registers, with
// no event where the replay diverges, and retries it with injected
// "workaround" events; panics in Event.UntrustedType on event types it
// does not know; and would bring go-tpm and a newer protobuf module into
// the build. Its CCEL samples are part of this package's tests.
package ccel
