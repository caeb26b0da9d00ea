package cache

import "testing"

func FuzzUnpackQuestion(f *testing.F) {
	f.Add(packQuestion(1_800_000_000_000, []float32{0.6, 0.8}, "how do i learn go"))
	f.Add([]byte{questionVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		exp, v, text, err := unpackQuestion(b)
		if err != nil {
			return
		}
		if again := packQuestion(exp, v, text); string(again) != string(b) {
			t.Fatalf("re-packing a decoded question changed it")
		}
	})
}
