package app

import "runtime/debug"

// ServerGCPercent is the garbage collector's target (GOGC) for a serving
// process whose operator has not set GOGC.
//
// A governed call allocates its rows, masked values and encoded answer and
// drops them when the answer is sent; the live heap stays small, so at
// Go's default of 100 the collector ran every few milliseconds under load
// and took about a tenth of the CPU of a governed call (bench/gate: CPU per
// governed call 448 µs at 100, 394 µs at 400). At 400 the heap may grow to
// five times what is live between collections: tens of megabytes here, far
// inside the memory a platform is given. Operators who must bound memory set
// GOGC or GOMEMLIMIT themselves, and then this is left alone.
const ServerGCPercent = 400

// TuneGC sets the collector's target for serving unless GOGC is set in the
// environment (getenv is os.Getenv). It returns the target it set, or 0 and
// false when it left the operator's setting alone.
func TuneGC(getenv func(string) string) (int, bool) {
	if getenv("GOGC") != "" {
		return 0, false
	}
	debug.SetGCPercent(ServerGCPercent)
	return ServerGCPercent, true
}
