package app

import (
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
