// Package atomicfile replaces a file so that after a crash or a power
// cut at any moment it holds either its old content or the new, whole:
// the data goes to a temporary file beside it, which is fsynced and
// renamed over it, and then the directory is fsynced.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile replaces path with data; a new file gets mode. On an error
// the temporary file (path + ".tmp") is removed and path is as it was,
// unless only the directory's fsync failed.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs the directory dir, so that the files created, renamed
// or removed in it stay so after a power cut.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
