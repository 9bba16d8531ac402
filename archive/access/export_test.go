package access

// HashCount is how many argon2 computations s ran (the sign-in tests
// compare names by it rather than by wall-clock time).
func HashCount(s *Service) int64 { return s.guard.hashes.Load() }

// RefusalsWritten waits until the aggregated refusals of the minutes that
// are over are in the trail (they are written off the request's path).
func RefusalsWritten(s *Service) { s.guard.flushing.Wait() }
