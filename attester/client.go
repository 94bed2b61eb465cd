// Package attester is the attesting side: it gathers evidence from the
// local TEE (Source), runs the challenge-response flow against an Assay
// server (Client) and unwraps the secrets the server releases. Programs that
// embed Assay's client use this package; "assay attest" and "assay
// get-secret" are thin wrappers over it.
package attester

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/internal/apiv1"
	"github.com/assay-dev/assay/internal/rcar"
)

// Client talks to an Assay server's challenge API.
type Client struct {
	// BaseURL is the server, "https://assay.example:8443".
	BaseURL string
	// HTTP is the client to use; nil is a client with a 30 s timeout.
	HTTP *http.Client
}

// Challenge is a challenge as the server issued it.
type Challenge = apiv1.ChallengeResponse

// Verdict is the server's answer to evidence.
type Verdict = apiv1.AttestResponse

// File is one evidence or collateral file.
type File struct {
	Name string
	Data []byte
}

// ErrRejected: the server appraised the evidence and did not trust it;
// the Verdict explains why.
var ErrRejected = errors.New("attestation rejected")

// ServerError is an error answer from the server.
type ServerError struct {
	Status int
	Type   string
	Detail string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Detail)
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (c *Client) do(ctx context.Context, method, path string, body any, bearer string, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, b, fmt.Errorf("the answer is not the expected JSON: %w", err)
		}
	}
	return resp.StatusCode, b, nil
}

func serverError(code int, body []byte) error {
	var p struct {
		Type   string `json:"type"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) != nil || p.Detail == "" {
		p.Detail = strings.TrimSpace(string(body))
	}
	return &ServerError{Status: code, Type: p.Type, Detail: p.Detail}
}

// Challenge asks for a single-use challenge; tee may be empty.
func (c *Client) Challenge(ctx context.Context, tee string) (Challenge, error) {
	var ch Challenge
	code, body, err := c.do(ctx, http.MethodPost, "/v1/challenge", apiv1.ChallengeRequest{TEE: tee}, "", &ch)
	if err != nil {
		return ch, err
	}
	if code != http.StatusOK {
		return ch, serverError(code, body)
	}
	return ch, nil
}

// ReportData is what the evidence for ch must carry when it binds
// teePubKey (nil for none): rcar.DeviceDigest, zero-padded by the TEE.
func ReportData(ch Challenge, teePubKey []byte) ([]byte, error) {
	return rcar.DeviceDigest(ch.Hash, ch.Nonce, teePubKey)
}

// Attest sends evidence for ch. On a trusted verdict it returns it with
// the token; on a rejection it returns the verdict (with the failed
// checks) and an error wrapping ErrRejected.
func (c *Client) Attest(ctx context.Context, ch Challenge, teePubKey []byte, files []File) (Verdict, error) {
	req := apiv1.AttestRequest{SessionID: ch.SessionID, TEEPubKey: teePubKey}
	for _, f := range files {
		req.Evidence = append(req.Evidence, apiv1.EvidenceFile{Name: f.Name, Data: base64.StdEncoding.EncodeToString(f.Data)})
	}
	var v Verdict
	code, body, err := c.do(ctx, http.MethodPost, "/v1/attest", req, "", &v)
	if err != nil {
		return v, err
	}
	switch code {
	case http.StatusOK:
		return v, nil
	case http.StatusForbidden:
		if json.Unmarshal(body, &v) == nil && v.Status != "" {
			return v, fmt.Errorf("%w: %s", ErrRejected, v.Error)
		}
	}
	return v, serverError(code, body)
}

// Resource fetches a secret released to the holder of token and unwraps
// it with the TEE private key whose public half the token binds.
func (c *Client) Resource(ctx context.Context, path, token string, priv crypto.PrivateKey) ([]byte, error) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) != 3 {
		return nil, fmt.Errorf("resource path %q must be repository/type/tag", path)
	}
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	code, body, err := c.do(ctx, http.MethodGet, "/v1/resource/"+strings.Join(segs, "/"), nil, token, nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, serverError(code, body)
	}
	plain, err := broker.Unwrap(body, priv)
	if err != nil {
		return nil, fmt.Errorf("unwrapping the released secret: %w", err)
	}
	return plain, nil
}

// Source produces evidence whose report data carries reportData.
type Source interface {
	// Evidence returns the evidence files (and any collateral the TEE
	// supplies, such as the SNP certificate table).
	Evidence(ctx context.Context, reportData []byte) ([]File, error)
}

// Run runs the whole flow: challenge, evidence from src bound to the
// challenge and teePubKey, appraisal. extra files (collateral) go with the
// evidence.
func (c *Client) Run(ctx context.Context, src Source, tee string, teePubKey []byte, extra []File) (Verdict, error) {
	ch, err := c.Challenge(ctx, tee)
	if err != nil {
		return Verdict{}, fmt.Errorf("challenge: %w", err)
	}
	rd, err := ReportData(ch, teePubKey)
	if err != nil {
		return Verdict{}, err
	}
	files, err := src.Evidence(ctx, rd)
	if err != nil {
		return Verdict{}, fmt.Errorf("gathering evidence: %w", err)
	}
	return c.Attest(ctx, ch, teePubKey, append(files, extra...))
}
