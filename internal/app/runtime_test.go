package app

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// The server's collector target applies only when the operator set none.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	if p, ok := TuneGC(func(string) string { return "50" }); ok || p != 0 {
		t.Fatalf("GOGC=50 set: TuneGC changed the target to %d", p)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("target %d after TuneGC with GOGC set, want the operator's 100 left alone", got)
	}
	if p, ok := TuneGC(func(string) string { return "" }); !ok || p != ServerGCPercent {
		t.Fatalf("TuneGC = %d, %v", p, ok)
	}
	if got := debug.SetGCPercent(100); got != ServerGCPercent {
		t.Fatalf("target %d, want %d", got, ServerGCPercent)
	}
}

// The server's processor count applies only when the operator set none.
func TestTuneProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	if n, ok := TuneProcs(func(string) string { return "1" }); ok || n != 0 {
		t.Fatalf("GOMAXPROCS=1 set: TuneProcs changed it to %d", n)
	}
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS %d after TuneProcs with GOMAXPROCS set, want %d left alone", got, before)
	}
	n, ok := TuneProcs(func(string) string { return "" })
	if !ok || n != ServerProcsPerCPU*before {
		t.Fatalf("TuneProcs = %d, %v; want %d", n, ok, ServerProcsPerCPU*before)
	}
	if got := runtime.GOMAXPROCS(0); got != n {
		t.Fatalf("GOMAXPROCS %d, want %d", got, n)
	}
}
