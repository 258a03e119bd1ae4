package gate

import (
	"encoding/json"
	"testing"
)

// FuzzAppendJSONString: the gate's fast JSON string encoder writes exactly
// what encoding/json writes, for any string (invalid UTF-8, controls,
// U+2028, HTML characters), so a delivery's bytes never depend on which path
// encoded a value.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "张三", "a\"b", "<script>", "\u2028", "\xff", "思明区\x00", "abc\\", "\u00e9t\u00e9", "🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
