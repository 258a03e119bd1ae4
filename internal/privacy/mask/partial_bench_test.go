package mask

import "testing"

func BenchmarkPartial(b *testing.B) {
	for _, c := range []struct {
		name string
		p    Partial
		v    string
	}{
		{"name", Partial{KeepPrefix: 1}, "欧阳娜娜"},
		{"id_card", Partial{KeepPrefix: 6, KeepSuffix: 4}, "11010519491231002X"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = c.p.Apply(c.v)
			}
		})
	}
}
