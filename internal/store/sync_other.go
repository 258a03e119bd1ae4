//go:build !linux

package store

import "os"

// syncData is fsync where the store does not ask SQLite for fdatasync.
func syncData(f *os.File) error {
	return f.Sync()
}
