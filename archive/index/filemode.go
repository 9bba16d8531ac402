package index

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// indexMode is the mode of a SQLite index and its -wal and -shm files:
// they hold the users' password hashes, sessions and the blind index.
const indexMode = 0o600

// tighten creates the SQLite file at path with indexMode if it does not
// exist (SQLite gives the -wal and -shm files the database file's mode),
// and narrows an existing file and its -wal and -shm to indexMode.
func tighten(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, indexMode)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, indexMode); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("index: %w", err)
		}
	}
	return nil
}
