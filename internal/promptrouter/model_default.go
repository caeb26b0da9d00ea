package promptrouter

import (
	_ "embed"
	"sync"
)

// DefaultName names the embedded artefact: the data it was fitted on, the
// split and the artefact's version.
const DefaultName = "routellm-0b64fda-mmlu+gsm8k-train70-v1"

//go:embed router-v1.bin
var defaultArtefact []byte

var defaultModel = sync.OnceValues(func() (*Model, error) {
	var m Model
	if err := m.UnmarshalBinary(defaultArtefact); err != nil {
		return nil, err
	}
	return &m, nil
})

// Default returns the embedded quality model, decoded once.
func Default() (*Model, error) { return defaultModel() }
