#!/usr/bin/env bash
# Bounded load test of `assay serve`'s background-check flow on loopback
# (server/load_test.go): SNP evidence from concurrent clients, reported as
# attestations per second with p50/p99 latency, beside the in-process
# appraisal rate measured in the same run.
#
#   scripts/loadtest.sh                      # SQLite, 8 workers, 10 s
#   ASSAY_LOAD_WORKERS=16 ASSAY_LOAD_SECONDS=30 scripts/loadtest.sh
#   ASSAY_LOAD_STORE=postgres ASSAY_TEST_POSTGRES=postgres://… scripts/loadtest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ASSAY_LOAD=1 go test ./server -run '^TestLoad$' -count=1 -v 2>&1 | grep -E '^(load:|--- |ok|FAIL)'
