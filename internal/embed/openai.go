package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// OpenAI is an embedding deployment on an OpenAI-compatible upstream
// (Ollama, vLLM, OpenAI): POST {BaseURL}/embeddings with the model name.
type OpenAI struct {
	// BaseURL ends in /v1 (e.g. http://127.0.0.1:11434/v1).
	BaseURL string
	// Model is the upstream model name.
	Model string
	// APIKey is sent as a bearer token when set.
	APIKey string
	// Normalize L2-normalizes what the upstream returns (Ollama and OpenAI
	// already return unit vectors; vLLM depends on the model).
	Normalize bool
	// Client is the HTTP client; http.DefaultClient when nil.
	Client *http.Client

	// Dims is the vector length; when 0, Dimensions asks the upstream.
	Dims int

	// mu guards Dims while Dimensions probes.
	mu sync.Mutex
}

var _ Embedder = (*OpenAI)(nil)

type openAIEmbeddingResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Embed implements Embedder. The upstream reports only the total token
// count; it is spread over the inputs in proportion to their length.
func (o *OpenAI) Embed(ctx context.Context, texts []string) (Result, error) {
	if len(texts) == 0 {
		return Result{}, nil
	}
	body, _ := json.Marshal(map[string]any{"model": o.Model, "input": texts, "encoding_format": "float"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.BaseURL, "/")+"/embeddings", bytes.NewReader(body))
	if err != nil {
		return Result{}, llm.Errorf(llm.KindInternal, "embedding upstream: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	c := o.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, &llm.Error{Kind: llm.KindCanceled, Err: ctx.Err()}
		}
		return Result{}, &llm.Error{Kind: llm.KindUnavailable, Message: "the embedding upstream is unreachable", Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return Result{}, &llm.Error{Kind: llm.KindUnavailable, Err: err}
	}
	var out openAIEmbeddingResponse
	jerr := json.Unmarshal(raw, &out)
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("embedding upstream returned HTTP %d", resp.StatusCode)
		if jerr == nil && out.Error != nil {
			msg += ": " + out.Error.Message
		}
		kind := llm.KindModelError
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			kind = llm.KindThrottled
		case resp.StatusCode >= 500:
			kind = llm.KindUnavailable
		}
		return Result{}, &llm.Error{Kind: kind, Message: msg, UpstreamStatus: resp.StatusCode}
	}
	if jerr != nil {
		return Result{}, &llm.Error{Kind: llm.KindModelError, Message: "the embedding upstream returned malformed JSON", Err: jerr}
	}
	if len(out.Data) != len(texts) {
		return Result{}, &llm.Error{Kind: llm.KindModelError, Message: fmt.Sprintf("the embedding upstream returned %d vectors for %d inputs", len(out.Data), len(texts))}
	}
	res := Result{Vectors: make([][]float32, len(texts)), Tokens: make([]int, len(texts))}
	for _, d := range out.Data {
		if d.Index < 0 || d.Index >= len(texts) || res.Vectors[d.Index] != nil || len(d.Embedding) == 0 {
			return Result{}, &llm.Error{Kind: llm.KindModelError, Message: "the embedding upstream returned inconsistent indexes"}
		}
		if o.Normalize {
			Normalize(d.Embedding)
		}
		res.Vectors[d.Index] = d.Embedding
	}
	dims := len(res.Vectors[0])
	for _, v := range res.Vectors {
		if len(v) != dims {
			return Result{}, &llm.Error{Kind: llm.KindModelError, Message: "the embedding upstream returned vectors of different lengths"}
		}
	}
	spreadTokens(res.Tokens, texts, out.Usage.PromptTokens)
	return res, nil
}

// spreadTokens divides total over texts in proportion to their byte length,
// giving each non-empty text at least one token.
func spreadTokens(dst []int, texts []string, total int) {
	bytes := 0
	for _, t := range texts {
		bytes += len(t)
	}
	left := total
	for i, t := range texts {
		if bytes > 0 {
			dst[i] = total * len(t) / bytes
		}
		if dst[i] == 0 && len(t) > 0 {
			dst[i] = 1
		}
		left -= dst[i]
	}
	if left > 0 && len(dst) > 0 {
		dst[len(dst)-1] += left
	}
}

// Dimensions implements Embedder: Dims when set, else the upstream is asked
// once, with a one-word input, and a successful answer is kept. 0 means the
// upstream could not be asked.
func (o *OpenAI) Dimensions() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Dims > 0 {
		return o.Dims
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := o.Probe(ctx); err == nil {
		o.Dims = n
	}
	return o.Dims
}

// ErrNoDimensions is returned by Probe when the upstream does not answer.
var ErrNoDimensions = errors.New("embed: the upstream did not report a dimension")

// Probe checks the upstream and returns its dimension.
func (o *OpenAI) Probe(ctx context.Context) (int, error) {
	r, err := o.Embed(ctx, []string{"dimensions"})
	if err != nil {
		return 0, err
	}
	if len(r.Vectors) != 1 || len(r.Vectors[0]) == 0 {
		return 0, ErrNoDimensions
	}
	return len(r.Vectors[0]), nil
}
