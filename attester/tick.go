package attester

import "time"

func tick() <-chan time.Time { return time.After(20 * time.Millisecond) }
