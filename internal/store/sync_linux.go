package store

import (
	"os"
	"syscall"
)

// syncData is fdatasync, the sync SQLite itself makes here (see
// openSQLite): the file's data and what is needed to read it back, not
// its timestamps.
func syncData(f *os.File) error {
	return syscall.Fdatasync(int(f.Fd()))
}
