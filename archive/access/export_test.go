package access

// HashCount is how many argon2 computations s ran (the sign-in tests
// compare names by it rather than by wall-clock time).
func HashCount(s *Service) int64 { return s.guard.hashes.Load() }
