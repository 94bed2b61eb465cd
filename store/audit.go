package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// AuditRecord is one entry of the append-only audit log. Records are
// hash-chained: Hash covers PrevHash and every other field, so changing,
// removing or reordering a stored record breaks the chain at that point
// (VerifyAuditChain).
type AuditRecord struct {
	// Seq counts from 1; AppendAudit assigns it.
	Seq  int64
	Time time.Time
	// Actor is who caused the event: "admin:<token id>", "attester:<session
	// id>", "system".
	Actor string
	// Action names the event: "appraisal", "release", "release.denied",
	// "secret.put", "secret.delete", "key.rotate", "kek.rotate".
	Action string
	// Subject is what the event is about: a session ID, a resource path.
	Subject string
	// Verdict is the outcome: an attest.Status name, "released", "denied",
	// "ok".
	Verdict string
	// Detail carries the digests of the evidence and collateral, the
	// policy version and the failed checks (JSON object).
	Detail json.RawMessage
	// PrevHash is the previous record's Hash (32 zero bytes for Seq 1).
	PrevHash []byte
	// Hash is AuditHash(this record).
	Hash []byte
}

// Audit is the append-only, hash-chained audit log.
type Audit interface {
	// AppendAudit assigns Seq and PrevHash from the current head, computes
	// Hash, and appends the record atomically with respect to other
	// appenders on any replica. It returns the record as stored.
	AppendAudit(ctx context.Context, r AuditRecord) (AuditRecord, error)
	// ListAudit returns up to limit records with Seq > afterSeq, in order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]AuditRecord, error)
}

// auditHashTag opens every audit hash input, so a record hash can never be
// mistaken for (or made to collide with) a hash over some other structure,
// and a future change of encoding can change the tag.
const auditHashTag = "assay audit record v1"

// genesisHash returns the PrevHash of the first record: 32 zero bytes.
func genesisHash() []byte { return make([]byte, sha256.Size) }

// AuditHash returns the SHA-256 hash that chains r to its predecessor.
//
// The hash input is a sequence of fields, each written as its length in
// bytes (8 bytes, unsigned big-endian) followed by its bytes:
//
//  1. the tag "assay audit record v1"
//  2. PrevHash
//  3. Seq, as 8 bytes, big-endian two's complement
//  4. Time in UTC, RFC 3339 with the fraction of a second to nanosecond
//     precision and trailing zeros removed (Go's time.RFC3339Nano:
//     "2026-05-20T09:14:03.52Z")
//  5. Actor
//  6. Action
//  7. Subject
//  8. Verdict
//  9. Detail with insignificant JSON white space removed (Go's
//     json.Compact, which keeps key order and string escapes as written);
//     an empty Detail is zero bytes, and a Detail that is not valid JSON
//     (which AppendAudit refuses) is hashed as it is
//
// Hash itself is not covered. Because every field carries its length, no
// two different records share an input. AppendAudit stores Time in UTC to
// the microsecond and Detail compacted before it hashes, so a record read
// back hashes as it did when written.
func AuditHash(r AuditRecord) []byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], uint64(r.Seq))
	field([]byte(auditHashTag))
	field(r.PrevHash)
	field(seq[:])
	field([]byte(r.Time.UTC().Format(time.RFC3339Nano)))
	field([]byte(r.Actor))
	field([]byte(r.Action))
	field([]byte(r.Subject))
	field([]byte(r.Verdict))
	field(compactJSON(r.Detail))
	return h.Sum(nil)
}

// compactJSON returns b without insignificant white space, or b itself when
// it is empty or not valid JSON.
func compactJSON(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// ChainError names the first audit record at which a chain fails to verify.
type ChainError struct {
	// Seq is the sequence number of the offending record, as stored (a
	// record whose own Seq is wrong is named by that wrong Seq).
	Seq int64
	// Reason says what did not hold.
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit record %d: %s", e.Seq, e.Reason)
}

// VerifyAuditChain checks that records form an unbroken hash chain: each
// record's Seq is one more than its predecessor's, its PrevHash is its
// predecessor's Hash, and its Hash is AuditHash of its content.
//
// prevHash is the Hash of the record before records[0], so a long log can
// be verified page by page. A nil prevHash means records start the log:
// records[0] must then have Seq 1 and a PrevHash of 32 zero bytes.
//
// The error is a *ChainError naming the first record that fails. A chain
// that verifies proves the records were not changed, removed or reordered
// after they were written, relative to prevHash; it does not prove that
// records after the last one were not cut off (compare the last Seq and
// Hash with a copy kept elsewhere for that).
func VerifyAuditChain(records []AuditRecord, prevHash []byte) error {
	if len(records) == 0 {
		return nil
	}
	startsLog := prevHash == nil
	if startsLog {
		prevHash = genesisHash()
	}
	for i, r := range records {
		want := int64(1)
		if i > 0 {
			want = records[i-1].Seq + 1
		}
		if (i > 0 || startsLog) && r.Seq != want {
			return &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("sequence number is %d, want %d", r.Seq, want)}
		}
		if r.Seq < 1 {
			return &ChainError{Seq: r.Seq, Reason: "sequence number is not positive"}
		}
		if !bytes.Equal(r.PrevHash, prevHash) {
			what := "the given previous hash"
			switch {
			case i > 0:
				what = fmt.Sprintf("the hash of record %d", records[i-1].Seq)
			case startsLog:
				what = "the zero hash that starts the log"
			}
			return &ChainError{Seq: r.Seq, Reason: "previous hash does not match " + what}
		}
		if !bytes.Equal(r.Hash, AuditHash(r)) {
			return &ChainError{Seq: r.Seq, Reason: "hash does not match its content"}
		}
		prevHash = r.Hash
	}
	return nil
}
