package app

import "github.com/outcrop/outcrop/internal/modelstore"

// storeModelPath returns the file of a model installed in the model store
// under the configured home.
func (a *App) storeModelPath(id string) (string, error) {
	s, err := modelstore.Open(a.cfg.Home)
	if err != nil {
		return "", err
	}
	m, err := s.Lookup(id)
	if err != nil {
		return "", err
	}
	return m.Path, nil
}
