package vector_test

import (
	"path/filepath"
	"testing"

	"github.com/outcrop/outcrop/internal/vector"
	"github.com/outcrop/outcrop/internal/vector/vectortest"
)

func TestEmbeddedConformance(t *testing.T) {
	dir := t.TempDir()
	n := 0
	open := func(t *testing.T) vector.Index {
		n++
		idx, err := vector.OpenEmbedded(filepath.Join(dir, "v"+string(rune('a'+n))+".db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { idx.Close() })
		return idx
	}
	vectortest.Run(t, vectortest.Factory{
		Open: open,
		Reopen: func(t *testing.T, idx vector.Index) vector.Index {
			path := filepath.Join(dir, "v"+string(rune('a'+n))+".db")
			idx.Close()
			again, err := vector.OpenEmbedded(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { again.Close() })
			return again
		},
	})
}

func TestEmbeddedMemory(t *testing.T) {
	vectortest.Run(t, vectortest.Factory{Open: func(t *testing.T) vector.Index {
		idx, err := vector.OpenEmbedded(":memory:", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { idx.Close() })
		return idx
	}})
}
