package bootchain

import "errors"

var (
	// ErrMalformed is a PE/COFF image whose headers or section table
	// cannot be read, or that point outside the file.
	ErrMalformed = errors.New("bootchain: malformed PE image")
	// ErrInput is a component that does not fit the reference log: more
	// EFI applications than the log loaded, a command line for a log that
	// measured none, a bank no component can be hashed in.
	ErrInput = errors.New("bootchain: components do not fit the reference log")
	// ErrUnsupported is a reference log whose measurement of a component
	// is not one the model rebuilds: the model, applied to what the log
	// itself says was measured, does not give the logged digest.
	ErrUnsupported = errors.New("bootchain: measurement not modelled")
)
