package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/assay-dev/assay/internal/rcar"
	"github.com/assay-dev/assay/store"
)

// problem is an RFC 7807 body. The KBS routes use the KBS error types
// (rcar.ErrorTypePrefix + a name, as Trustee's clients expect); Assay's own
// routes use the same shape with Assay's prefix.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title,omitempty"`
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail"`
}

const assayErrorPrefix = "https://github.com/assay-dev/assay/errors/"

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// kbsError writes a KBS ErrorInformation body.
func kbsError(w http.ResponseWriter, code int, kind, detail string) {
	writeJSON(w, code, rcar.ErrorInformation{Type: rcar.ErrorTypePrefix + kind, Detail: detail})
}

// apiError writes a problem body for Assay's own routes.
func apiError(w http.ResponseWriter, code int, kind, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(problem{Type: assayErrorPrefix + kind, Title: http.StatusText(code), Status: code, Detail: detail})
}

// storeStatus maps a store error to an HTTP status: the kinds a caller can
// cause are 4xx, the rest is the service's fault.
func storeStatus(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// decodeJSON reads a JSON body into v, refusing trailing data. A body over
// the limit is reported as such.
func decodeJSON(r *http.Request, v any) (int, error) {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return http.StatusRequestEntityTooLarge, errors.New("request body is over the size limit")
		}
		return http.StatusBadRequest, errors.New("request body is not the expected JSON: " + err.Error())
	}
	if dec.More() {
		return http.StatusBadRequest, errors.New("request body has data after the JSON value")
	}
	return 0, nil
}
