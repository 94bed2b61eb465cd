package server

// Exported for the external tests.
var (
	ParseRecordForTest = parseRecord
	RecordOfForTest    = recordOf
)
