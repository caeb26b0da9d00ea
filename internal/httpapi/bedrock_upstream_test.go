package httpapi

import (
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
)

// interopProvider returns the upstream the client interop tests run
// against and whether it is a real model.
func interopProvider(t *testing.T) (llm.Provider, bool) {
	t.Helper()
	return scripted(), false
}
