// Package nitro computes the AWS Nitro Enclaves PCR0, PCR1 and PCR2 of an
// enclave image file (EIF), as the Nitro hypervisor reports them in the
// attestation document and as nitro-cli build-enclave and describe-eif
// print them.
//
// An EIF (aws-nitro-enclaves-image-format, src/defs/mod.rs) is a 548-byte
// big-endian header — magic ".eif", version, flags, default memory and
// vCPUs, the section count, tables of 32 section offsets and sizes, and a
// CRC-32 (IEEE) over everything else in the file — followed by sections,
// each a 12-byte header (UINT16 type, UINT16 flags, UINT64 size) and its
// data: kernel (1), kernel command line (2), ramdisk (3), signature (4,
// CBOR), metadata (5, JSON).
//
// The PCRs (src/utils/eif_reader.rs, EifReader; AWS "Where to get an
// enclave's measurements"):
//
//	PCR0 (image):      kernel, command line and every ramdisk
//	PCR1 (bootstrap):  kernel, command line and the first ramdisk
//	PCR2 (application): the ramdisks after the first
//
// each one SHA-384 over the concatenated section data, extended once into
// a zero register: PCR = SHA-384(48 zero bytes || SHA-384(data)). PCR8,
// the signing certificate's digest, needs the signature section's CBOR
// and is not computed; PCR3 and PCR4 (IAM role, instance ID) do not come
// from the image.
//
// ParseEIF does no I/O and verifies no signature.
package nitro
