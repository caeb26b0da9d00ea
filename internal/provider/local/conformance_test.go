package local

import (
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

// TestConformance runs the provider conformance suite on the built-in
// engine with SmolLM2-135M-Instruct (OUTCROP_TEST_GGUF): event order, usage,
// stop reasons, multi-turn and tool-result histories, Close and
// cancellation, classified errors, concurrent streams. The 135M model cannot
// be relied on to call a tool, so the forced tool call is not asked of it.
func TestConformance(t *testing.T) {
	e := realEngine(t)
	providertest.Run(t, providertest.Target{
		New:     func(t *testing.T) llm.Provider { return e },
		MaxWait: 2 * time.Minute,
	})
}
