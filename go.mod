module github.com/assay-dev/assay

go 1.26.8

require (
	github.com/google/go-sev-guest v0.15.0
	google.golang.org/protobuf v1.33.0
)

require (
	github.com/google/logger v1.1.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/crypto v0.17.0 // indirect
	golang.org/x/sys v0.15.0 // indirect
)
