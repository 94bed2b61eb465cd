package policy

// DecodeJSON exposes the claims decoder to the fuzz test.
var DecodeJSON = decodeJSON

// ClaimsJSON is the claims' conversion through their JSON form.
var ClaimsJSON = claimsJSON

// ClaimsWalk is the conversion Evaluate uses, with the engine's plans.
func (e *Engine) ClaimsWalk(c any) (map[string]any, error) { return e.walk.claims(c) }
