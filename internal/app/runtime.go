package app

import (
	"runtime"
	"runtime/debug"
)

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

// ServerProcsPerCPU is how many Go processors (GOMAXPROCS) a serving
// process runs for each CPU the runtime found, when its operator has not
// set GOMAXPROCS (see docs/decisions/0110-twice-the-processors.md).
//
// With one processor a core, Go's scheduler looks for calls whose network
// input has arrived only when a processor has nothing else queued; under
// bursts (a group commit that wakes thirty calls at once, a collection
// that takes a processor) a call's answer, written and ready, waited
// milliseconds for its goroutine to run. At half of the gate's maximum
// load on two cores, with the WAL's restart set aside, the time a call
// spent outside its handler was most of its p99 (bench/gate: p99 11 to
// 16 ms with the handler's own p99 4 to 5 ms). With two processors a core
// the kernel shares the cores among four threads, a ready call waits for a
// time slice rather than a queue, and the p99 fell to 5 to 6 ms at the
// same CPU a call and throughput.
const ServerProcsPerCPU = 2

// TuneProcs sets GOMAXPROCS for serving unless the operator set it in the
// environment. It returns the setting it chose, or 0 and false. A value
// set here is fixed: the runtime no longer follows a change of the
// container's CPU limit while the process runs, so a new limit takes a
// restart.
func TuneProcs(getenv func(string) string) (int, bool) {
	if getenv("GOMAXPROCS") != "" {
		return 0, false
	}
	// GOMAXPROCS(0) is the runtime's default: the CPUs this process may
	// use, within its container's limit.
	n := ServerProcsPerCPU * runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(n)
	return n, true
}
