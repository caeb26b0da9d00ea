package mlflow

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// artifactURL resolves a run's artifact URI plus a relative path to the
// tracking server's artifact proxy, as MLflow's MlflowArtifactsRepository
// does: mlflow-artifacts:/p → <tracking URI>/api/2.0/mlflow-artifacts/artifacts/p,
// and mlflow-artifacts://host:port/p → http://host:port/api/2.0/mlflow-artifacts/artifacts/p.
// Other schemes (file:, s3:, a bare path) are not reachable through the
// proxy: the server was started with --default-artifact-root, and the error
// says so.
func (c *Client) artifactURL(artifactURI, rel string) (*url.URL, error) {
	u, err := url.Parse(artifactURI)
	if err != nil || u.Scheme != "mlflow-artifacts" {
		return nil, fmt.Errorf("mlflow: artifact URI %q is not proxied by the tracking server (start it with --serve-artifacts and without --default-artifact-root)", artifactURI)
	}
	base := *c.base
	if u.Host != "" {
		base = url.URL{Scheme: c.base.Scheme, Host: u.Host}
	}
	p := path.Join("/", u.Path, rel)
	out := base
	out.Path = strings.TrimRight(base.Path, "/") + "/api/2.0/mlflow-artifacts/artifacts" + p
	out.RawPath = ""
	return &out, nil
}

func checkRel(rel string) error {
	if rel == "" || strings.HasPrefix(rel, "/") || path.Clean(rel) != rel || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("mlflow: artifact path %q must be relative and normalised", rel)
	}
	return nil
}

// LogArtifact uploads data as the artifact rel (e.g. "charts/radar.png") of
// the run whose artifact URI is artifactURI (RunInfo.ArtifactURI).
func (c *Client) LogArtifact(ctx context.Context, artifactURI, rel string, data []byte) error {
	if err := checkRel(rel); err != nil {
		return err
	}
	u, err := c.artifactURL(artifactURI, rel)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "PUT", u.String(), bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mimeType(rel))
	return c.send(req, "upload artifact "+rel, nil)
}

// DownloadArtifact returns the bytes of a run's artifact.
func (c *Client) DownloadArtifact(ctx context.Context, artifactURI, rel string) ([]byte, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	u, err := c.artifactURL(artifactURI, rel)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return nil, err
	}
	var b []byte
	err = c.send(req, "download artifact "+rel, &b)
	return b, err
}

// FileInfo is one entry of ListArtifacts.
type FileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize Int64  `json:"file_size"`
}

// ListArtifacts lists a run's artifacts under dir ("" for the root) through
// the tracking API.
func (c *Client) ListArtifacts(ctx context.Context, runID, dir string) ([]FileInfo, error) {
	var all []FileInfo
	token := ""
	for {
		q := url.Values{"run_id": {runID}}
		if dir != "" {
			q.Set("path", dir)
		}
		if token != "" {
			q.Set("page_token", token)
		}
		var out struct {
			Files         []FileInfo `json:"files"`
			NextPageToken string     `json:"next_page_token"`
		}
		if err := c.do(ctx, "GET", "/api/2.0/mlflow/artifacts/list", q, nil, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Files...)
		if out.NextPageToken == "" {
			return all, nil
		}
		token = out.NextPageToken
	}
}
