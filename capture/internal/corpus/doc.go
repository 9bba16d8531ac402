// Package corpus finds the shared capture corpus (../shared/corpus beside
// the repository) for tests and fuzz seeds, and reads its frames.
package corpus
