package attester

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// SWTPMPrefix names a TCP TPM simulator in OpenTPM: "swtpm:host:port".
const SWTPMPrefix = "swtpm:"

// OpenTPM opens a TPM: "swtpm:HOST:PORT" is swtpm's TCP server port
// (swtpm socket --tpm2 --server type=tcp,port=PORT, which takes raw TPM
// 2.0 commands; the TPM must be started, e.g. --flags
// not-need-init,startup-clear); anything else is a character device,
// /dev/tpmrm0 (the kernel's resource manager) being the one to use.
func OpenTPM(ctx context.Context, spec string) (transport.TPMCloser, error) {
	if addr, ok := strings.CutPrefix(spec, SWTPMPrefix); ok {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("TPM %q: want swtpm:HOST:PORT: %w", spec, err)
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("TPM %q: %w", spec, err)
		}
		return &SWTPMConn{Conn: c}, nil
	}
	t, err := linuxtpm.Open(spec)
	if err != nil {
		return nil, fmt.Errorf("TPM %q: %w", spec, err)
	}
	return t, nil
}

// SWTPMConn is a transport.TPM over swtpm's TCP server port, which speaks
// raw TPM 2.0 commands: write a command, read one response, whose size is
// in its 10-byte header (TPM 2.0 Part 1, section 18.7).
type SWTPMConn struct {
	Conn net.Conn
	// Timeout bounds one command; zero is 30 seconds.
	Timeout time.Duration
}

var _ transport.TPMCloser = (*SWTPMConn)(nil)

// maxTPMResponse bounds a response: TPM 2.0 responses are at most a few
// KiB (MAX_RESPONSE_SIZE, commonly 4096).
const maxTPMResponse = 1 << 16

// Send implements transport.TPM.
func (s *SWTPMConn) Send(cmd []byte) ([]byte, error) {
	to := s.Timeout
	if to == 0 {
		to = 30 * time.Second
	}
	if err := s.Conn.SetDeadline(time.Now().Add(to)); err != nil {
		return nil, err
	}
	if _, err := s.Conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("swtpm: %w", err)
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(s.Conn, hdr); err != nil {
		return nil, fmt.Errorf("swtpm: response header: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:])
	if size < 10 || size > maxTPMResponse {
		return nil, fmt.Errorf("swtpm: response size %d, want 10 to %d", size, maxTPMResponse)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(s.Conn, rsp[10:]); err != nil {
		return nil, fmt.Errorf("swtpm: response: %w", err)
	}
	return rsp, nil
}

// Close implements io.Closer.
func (s *SWTPMConn) Close() error { return s.Conn.Close() }
