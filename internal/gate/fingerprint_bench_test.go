package gate

import (
	"fmt"
	"testing"
)

func BenchmarkFingerprintApply(b *testing.B) {
	for _, scheme := range []int{PseudonymHMAC, PseudonymCMAC} {
		b.Run(fmt.Sprint("scheme", scheme), func(b *testing.B) { benchmarkFingerprintApply(b, scheme) })
	}
}

func benchmarkFingerprintApply(b *testing.B, scheme int) {
	s := &Service{traceKey: derive([]byte("secret"), "gate/trace"), pseudKey: derive([]byte("secret"), "gate/pseudonym"), fpKeys: map[grantKeyID]*grantKeys{}}
	f := s.fingerprinter(&Grant{ID: "0193a8f0-7c2d-7b3e-9f10-2a4b6c8d0e1f", PseudonymScheme: scheme})
	vals := make([]string, 100)
	for i := range vals {
		vals[i] = fmt.Sprintf("350203%08d%04d", 19500101+i, i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = f.Apply(vals[i%100])
	}
}
