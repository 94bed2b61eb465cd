package policy

// DecodeJSON exposes the claims decoder to the fuzz test.
var DecodeJSON = decodeJSON
