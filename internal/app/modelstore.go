package app

import (
	"fmt"
	"os"
	"path/filepath"
)

// storeModelPath returns the file of an installed model.
func (a *App) storeModelPath(id string) (string, error) {
	p := filepath.Join(a.cfg.Home, "models", id+".gguf")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("model %q is not installed in %s (run `outcrop models ls`)", id, a.cfg.Home)
	}
	return p, nil
}
