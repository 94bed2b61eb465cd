// Package tcg reads the event logs behind TPM PCR values — the TCG PC
// Client firmware event log, Linux IMA's measurement list and the TCG
// Canonical Event Log — replays them into PCR values, says which event
// breaks a replay, and decodes their events into claims.
//
// # Inputs
//
//   - The firmware event log (/sys/kernel/security/tpm0/binary_bios_measurements,
//     Windows' C:\Windows\Logs\MeasuredBoot\*.log, the log a TPM attester
//     ships): TCG PC Client Platform Firmware Profile (PFP) 1.06 section
//     10. Two formats: crypto-agile (a SHA-1-format EV_NO_ACTION "Spec ID
//     Event03" header whose digest sizes say how to read the
//     TCG_PCR_EVENT2 entries after it, one digest per PCR bank) and SHA-1
//     (TCG_PCClientPCREvent entries only, as TPM 1.2 firmware and
//     EFI_TCG2_EVENT_LOG_FORMAT_TCG_1_2 write them). Parse reads both and
//     stops at trailing 0x00/0xFF fill; see Parse for what counts as
//     fill. Events are numbered from 0 as tpm2_eventlog numbers them: in
//     a crypto-agile log event #0 is the Spec ID header.
//   - The IMA measurement list
//     (/sys/kernel/security/ima/binary_runtime_measurements, or its
//     binary_runtime_measurements_<alg> siblings on Linux 6.10 and
//     later): ParseIMA, templates ima, ima-ng, ima-sig, ima-buf,
//     ima-modsig, ima-ngv2, ima-sigv2, evm-sig and custom ones, in either
//     byte order.
//   - A TCG Canonical Event Log in its TLV encoding, as Google's
//     Confidential Space launcher writes it (PCR 13, or CC measurement
//     register 4 = TDX RTMR3): ParseCEL. The JSON and CBOR encodings of
//     CEL are not read.
//
// Sniff, SniffIMA and SniffCEL tell the formats apart by their first
// bytes; SniffIMAPolicy recognises IMA allow lists by parsing them. A Confidential Computing event log (TDX CCEL) has the
// crypto-agile format too: Sniff leaves every log whose banks are all
// SHA-384 or SM3 to internal/eventlog/ccel, whose Sniff claims exactly
// those, so the two never claim the same input (a TPM log with a single
// SHA-384 bank still parses here).
//
// # What is verified
//
// Compare replays one bank of the log — PCR[i] = H(PCR[i] || digest) for
// every event of PCR 0..23 that is not EV_NO_ACTION (PFP 1.06 section
// 10.4.5) — and compares the PCRs given with the replay. PCRs start at
// zero, except PCR 0 after a StartupLocality EV_NO_ACTION event (its
// locality in the last byte, PFP section 10.4.5.3) and PCRs 17..22 that
// no event extends (all ones after TPM2_Startup, PTP 1.05 section
// 4.6.2). A mismatch names each PCR that differs and the event from which
// its replay can no longer reach the quoted value, and the events whose
// digest, by their type, should be and is not the hash of their data
// (PCRMismatch says what that can and cannot locate). For IMA,
// IMALog.Replay extends PCR 10, MatchPrefix finds how many entries a
// quoted value covers (the list grows after the quote), and
// CheckTemplates checks that every entry's template digest is the hash of
// its template data, naming the entries whose is not.
//
// # What is trusted
//
// Nothing in a log by itself. Its digests are tied to the hardware only
// through PCR values from a quote whose signature, attestation key and
// nonce the caller (verifier/tpm) has verified; until Compare (or, for
// IMA, MatchPrefix) has matched such values, a log and its claims are
// unauthenticated input.
//
// # What a log does not prove
//
//   - A replay match binds each event's digest, not its data. Claims
//     marks where the log itself shows that every digest of an event is
//     the hash of the decoded content (data_verified, text_verified: UEFI
//     variables such as SecureBoot, PK, KEK, db and dbx, EV_SEPARATOR,
//     EV_EFI_ACTION, grub's commands and kernel command line,
//     systemd-boot's load options); elsewhere (boot application device
//     paths, firmware blob addresses, files grub read, the Linux EFI
//     stub's tags, UKI sections) the digest is of something outside the
//     log and the text beside it is a description that a policy must not
//     trust on its own: match the digest against a reference value.
//     Secure Boot state comes only from a data_verified SecureBoot
//     variable in PCR 7.
//   - Events outside PCRs 0..23 (Windows logs EV_NO_ACTION events with
//     PCR index 0xFFFFFFFF) and EV_NO_ACTION events are bound by nothing.
//   - A match says what was extended, not that it is good: which boot
//     manager, shim, grub, kernel or command line is acceptable is the
//     policy's call.
//   - For IMA, an entry whose template hash does not match its data
//     (template_hash_ok false) may still replay correctly: its path and
//     file digest are not what was measured. IMALog.Appraise judges file
//     measurements against an allow list (ParseIMAPolicy: sha256sum-style
//     lines or a Keylime runtime policy) and verifies version 2 ima-sig
//     signatures with the keys given (ParseIMAKeys); it binds nothing
//     itself: judge only the prefix a quote binds. Kernels before 5.8
//     extended every bank with the SHA-1 template digest zero-padded;
//     Replay computes what 5.8 and later extend, ReplayPadded (and
//     MatchPrefixPadded) the older way.
//   - A log taken after the quote has more events than the quote saw; a
//     register extended by software that logs elsewhere has events the
//     log lacks. Both are mismatches, reported as such.
//
// # Relation to go-eventlog and go-attestation
//
// The parsers are written here, on the standard library, rather than
// wrapping github.com/google/go-eventlog v0.0.2 (tcg, cel) or
// github.com/google/go-attestation v0.6.4 (attest.ParseEventLog), because
// on this corpus and API they fall short:
//
//   - go-eventlog treats any event with PCR index 0xFFFFFFFF as padding:
//     the Lenovo logs of the corpus (galmasi ideapad, thinkpad) end with
//     such Windows events and fail to parse ("reached padding before
//     event log EOF") unless padding is allowed, when the events are
//     silently dropped. Zero fill is no padding to either library: both
//     read it as a run of empty PCR 0 events (64 zero bytes after
//     swtpm.bin add four), and go-attestation fails on 0xFF fill.
//   - Both require Spec ID version 2.0 exactly; go-attestation refuses a
//     declared bank it has no Go hash for (SM3), go-eventlog a log
//     without a SHA-1, SHA-256 or SHA-384 bank.
//   - go-eventlog's Event.UntrustedType recurses without end on an event
//     type it does not know (galmasi intel_svr has type 0x40e): a fatal
//     stack overflow, not a recoverable panic.
//   - Both report a failed replay as the list of bad PCRs, with no event
//     where the replay diverges, and retry it with injected "workaround"
//     events.
//   - Neither reads IMA measurement lists (go-attestation's ima package
//     is gone by v0.6.4); go-eventlog's CEL decoder allocates whatever
//     length a TLV claims, up to 4 GiB, before reading it.
//   - They would bring go-tpm, go-tpm-tools and newer protobuf and
//     x/crypto modules into this package for what is a few hundred lines
//     of bounded parsing.
//
// Their logs are part of this package's corpus tests, and go-eventlog's
// stated kernel command lines and PCR values are checked against ours.
// The UEFI decoders (variables, device paths, image loads) follow
// internal/eventlog/ccel's, adapted to multiple banks.
package tcg
