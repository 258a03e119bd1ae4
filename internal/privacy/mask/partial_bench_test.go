package mask

import "testing"

func BenchmarkPartial(b *testing.B) {
	p := Partial{KeepPrefix: 1}
	names := []string{"张伟", "李娜", "欧阳明日", "Wang Fang"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = p.Apply(names[i%4])
	}
}
