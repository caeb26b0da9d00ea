// Package mlflow is a client for the REST API of an MLflow tracking server
// (2.x and 3.x): experiments, runs (nested through the mlflow.parentRunId
// tag), batched metrics/params/tags within the server's limits, dataset
// inputs, and artifacts through the server's artifact proxy
// (mlflow-artifacts: URIs, `mlflow server --serve-artifacts`).
package mlflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Server limits (mlflow/utils/validation.py). The client splits batches by
// them and rejects keys the server would reject, so nothing relies on the
// server's truncation.
const (
	MaxMetricsPerBatch  = 1000
	MaxParamsPerBatch   = 100
	MaxTagsPerBatch     = 100
	MaxEntitiesPerBatch = 1000
	MaxBatchBytes       = 1_000_000
	MaxKeyLength        = 250
	// MaxParamValueLength is 6000 on MLflow ≥2.8 (500 before).
	MaxParamValueLength = 6000
	// MaxTagValueLength is 8000 on 3.x and 5000 on 2.x; the client keeps to
	// the smaller.
	MaxTagValueLength = 5000
)

// Reserved tags.
const (
	TagParentRunID = "mlflow.parentRunId"
	TagRunName     = "mlflow.runName"
	TagUser        = "mlflow.user"
	TagSourceName  = "mlflow.source.name"
	TagSourceType  = "mlflow.source.type"
	TagNote        = "mlflow.note.content"
	TagDataContext = "mlflow.data.context"
)

// Client talks to one tracking server. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	http   *http.Client
	auth   string // Authorization header value, or ""
	logger *slog.Logger
}

// Options configure New.
type Options struct {
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
	// Token is sent as a Bearer token (MLFLOW_TRACKING_TOKEN).
	Token string
	// Username and Password are sent as basic auth
	// (MLFLOW_TRACKING_USERNAME/PASSWORD) when Token is empty.
	Username, Password string
	Logger             *slog.Logger
}

// New returns a client for the tracking server at trackingURI
// (http://host:port[/prefix]).
func New(trackingURI string, o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(trackingURI, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mlflow: tracking URI %q must be http(s)://host[:port]", trackingURI)
	}
	c := &Client{base: u, http: o.HTTPClient, logger: o.Logger}
	if c.http == nil {
		c.http = &http.Client{Timeout: 60 * time.Second}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	c.logger = c.logger.With("component", "mlflow")
	switch {
	case o.Token != "":
		c.auth = "Bearer " + o.Token
	case o.Username != "":
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(o.Username, o.Password)
		c.auth = req.Header.Get("Authorization")
	}
	return c, nil
}

// URL returns the tracking URI.
func (c *Client) URL() string { return c.base.String() }

// APIError is an error response of the server.
type APIError struct {
	Status  int
	Code    string // e.g. RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("mlflow: %d %s: %s", e.Status, e.Code, e.Message)
}

// IsCode reports whether err is an APIError with the given error code.
func IsCode(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == code
}

func (c *Client) do(ctx context.Context, method, p string, query url.Values, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("mlflow: encode %s: %w", p, err)
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + p
	if query != nil {
		u.RawQuery = query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, p, out)
}

func (c *Client) send(req *http.Request, what string, out any) error {
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("mlflow: %s: %w", what, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("mlflow: %s: read: %w", what, err)
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{Status: resp.StatusCode}
		var e struct {
			ErrorCode string `json:"error_code"`
			Message   string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil && e.ErrorCode != "" {
			ae.Code, ae.Message = e.ErrorCode, e.Message
		} else {
			ae.Code, ae.Message = http.StatusText(resp.StatusCode), strings.TrimSpace(string(data))
		}
		return ae
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if b, ok := out.(*[]byte); ok {
		*b = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("mlflow: %s: decode: %w", what, err)
	}
	return nil
}

// Int64 decodes an int64 sent as a JSON number or string (protobuf JSON).
type Int64 int64

// UnmarshalJSON accepts 123 and "123".
func (i *Int64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*i = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	*i = Int64(v)
	return err
}

// Tag is a key/value pair (run, experiment and input tags).
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Param is a run parameter; params are immutable once logged.
type Param = Tag

// Metric is one metric value.
type Metric struct {
	Key       string  `json:"key"`
	Value     float64 `json:"value"`
	Timestamp Int64   `json:"timestamp"`
	Step      Int64   `json:"step"`
}

// Experiment is an MLflow experiment.
type Experiment struct {
	ID               string `json:"experiment_id"`
	Name             string `json:"name"`
	ArtifactLocation string `json:"artifact_location"`
	LifecycleStage   string `json:"lifecycle_stage"`
	Tags             []Tag  `json:"tags"`
}

// ExperimentByName returns the experiment called name; a missing one is an
// APIError with code RESOURCE_DOES_NOT_EXIST.
func (c *Client) ExperimentByName(ctx context.Context, name string) (*Experiment, error) {
	var out struct {
		Experiment Experiment `json:"experiment"`
	}
	q := url.Values{"experiment_name": {name}}
	if err := c.do(ctx, "GET", "/api/2.0/mlflow/experiments/get-by-name", q, nil, &out); err != nil {
		return nil, err
	}
	return &out.Experiment, nil
}

// CreateExperiment creates an experiment and returns its id.
func (c *Client) CreateExperiment(ctx context.Context, name string, tags []Tag) (string, error) {
	var out struct {
		ID string `json:"experiment_id"`
	}
	body := map[string]any{"name": name}
	if len(tags) > 0 {
		body["tags"] = tags
	}
	err := c.do(ctx, "POST", "/api/2.0/mlflow/experiments/create", nil, body, &out)
	return out.ID, err
}

// EnsureExperiment returns the id of the active experiment called name,
// creating it when missing. A concurrent creator is tolerated
// (RESOURCE_ALREADY_EXISTS → look it up again); a deleted experiment of that
// name is an error, since runs cannot be created in it.
func (c *Client) EnsureExperiment(ctx context.Context, name string) (string, error) {
	if len(name) == 0 || len(name) > 500 {
		return "", fmt.Errorf("mlflow: experiment name must be 1-500 characters")
	}
	for range 2 {
		e, err := c.ExperimentByName(ctx, name)
		if err == nil {
			if e.LifecycleStage == "deleted" {
				return "", fmt.Errorf("mlflow: experiment %q is deleted; restore it or use another name", name)
			}
			return e.ID, nil
		}
		if !IsCode(err, "RESOURCE_DOES_NOT_EXIST") {
			return "", err
		}
		id, err := c.CreateExperiment(ctx, name, nil)
		if err == nil {
			return id, nil
		}
		if !IsCode(err, "RESOURCE_ALREADY_EXISTS") {
			return "", err
		}
	}
	return "", fmt.Errorf("mlflow: experiment %q could not be created or found", name)
}

// RunInfo is a run's metadata.
type RunInfo struct {
	RunID          string `json:"run_id"`
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	Status         string `json:"status"`
	StartTime      Int64  `json:"start_time"`
	EndTime        Int64  `json:"end_time"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

// RunData is a run's latest metrics, params and tags.
type RunData struct {
	Metrics []Metric `json:"metrics"`
	Params  []Param  `json:"params"`
	Tags    []Tag    `json:"tags"`
}

// Run is a run as get and search return it.
type Run struct {
	Info RunInfo `json:"info"`
	Data RunData `json:"data"`
}

// CreateRun starts a run in an experiment. A non-empty parentRunID nests it
// (the mlflow.parentRunId tag, which the UI and search use).
func (c *Client) CreateRun(ctx context.Context, experimentID, name, parentRunID string, tags []Tag) (*RunInfo, error) {
	if parentRunID != "" {
		tags = append(tags, Tag{TagParentRunID, parentRunID})
	}
	for _, t := range tags {
		if err := validateKey(t.Key); err != nil {
			return nil, err
		}
	}
	body := map[string]any{
		"experiment_id": experimentID,
		"start_time":    time.Now().UnixMilli(),
	}
	if len(tags) > 0 {
		body["tags"] = tags
	}
	if name != "" {
		body["run_name"] = name
	}
	var out struct {
		Run Run `json:"run"`
	}
	if err := c.do(ctx, "POST", "/api/2.0/mlflow/runs/create", nil, body, &out); err != nil {
		return nil, err
	}
	return &out.Run.Info, nil
}

// Run statuses for UpdateRun.
const (
	StatusRunning  = "RUNNING"
	StatusFinished = "FINISHED"
	StatusFailed   = "FAILED"
	StatusKilled   = "KILLED"
)

// UpdateRun sets a run's status; terminal statuses also set its end time.
func (c *Client) UpdateRun(ctx context.Context, runID, status string) error {
	body := map[string]any{"run_id": runID, "status": status}
	if status != StatusRunning {
		body["end_time"] = time.Now().UnixMilli()
	}
	return c.do(ctx, "POST", "/api/2.0/mlflow/runs/update", nil, body, nil)
}

// GetRun returns a run with its latest metric values.
func (c *Client) GetRun(ctx context.Context, runID string) (*Run, error) {
	var out struct {
		Run Run `json:"run"`
	}
	if err := c.do(ctx, "GET", "/api/2.0/mlflow/runs/get", url.Values{"run_id": {runID}}, nil, &out); err != nil {
		return nil, err
	}
	return &out.Run, nil
}

// SearchRuns returns every active run of the experiments that matches filter
// (MLflow's search syntax, e.g. "tags.mlflow.parentRunId = '<id>'"),
// following pagination.
func (c *Client) SearchRuns(ctx context.Context, experimentIDs []string, filter string) ([]Run, error) {
	var all []Run
	token := ""
	for {
		body := map[string]any{
			"experiment_ids": experimentIDs, "filter": filter,
			"run_view_type": "ACTIVE_ONLY", "max_results": 1000,
		}
		if token != "" {
			body["page_token"] = token
		}
		var out struct {
			Runs          []Run  `json:"runs"`
			NextPageToken string `json:"next_page_token"`
		}
		if err := c.do(ctx, "POST", "/api/2.0/mlflow/runs/search", nil, body, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Runs...)
		if out.NextPageToken == "" {
			return all, nil
		}
		token = out.NextPageToken
	}
}

// SetTag sets one run tag.
func (c *Client) SetTag(ctx context.Context, runID, key, value string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	return c.do(ctx, "POST", "/api/2.0/mlflow/runs/set-tag", nil, map[string]any{"run_id": runID, "key": key, "value": value}, nil)
}

var keyRE = regexp.MustCompile(`^[/\w.\- ]*$`)

// validateKey applies MLflow's rules for metric, param and tag keys: 1-250
// characters of letters, digits, _ - . space and /, forming a path that
// normalises to itself and does not start with "/" or "..".
func validateKey(k string) error {
	if k == "" || len(k) > MaxKeyLength {
		return fmt.Errorf("mlflow: key %q must be 1-%d characters", k, MaxKeyLength)
	}
	if !keyRE.MatchString(k) {
		return fmt.Errorf("mlflow: key %q may only contain letters, digits, _ - . space and /", k)
	}
	if c := path.Clean(k); c != k || c == "." || strings.HasPrefix(c, "..") || strings.HasPrefix(c, "/") {
		return fmt.Errorf("mlflow: key %q is not a normalised relative path", k)
	}
	return nil
}

// SanitizeKey turns free text (a category, a dataset name) into a valid key
// part: characters MLflow rejects become "_".
func SanitizeKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '_' || r == '-' || r == '.' || r == ' ' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.ReplaceAll(b.String(), "..", "_.")
	if len(out) > 200 {
		out = out[:200]
	}
	return out
}

// mimeType guesses a Content-Type from an artifact's file name.
func mimeType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
