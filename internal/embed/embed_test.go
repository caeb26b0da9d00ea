package embed

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/testenv"
)

func TestVectorHelpers(t *testing.T) {
	v := Normalize([]float32{3, 4})
	if math.Abs(float64(v[0])-0.6) > 1e-6 || math.Abs(float64(v[1])-0.8) > 1e-6 {
		t.Errorf("Normalize = %v", v)
	}
	if z := Normalize([]float32{0, 0}); z[0] != 0 || z[1] != 0 {
		t.Errorf("Normalize(zero) = %v", z)
	}
	r := Reduce([]float32{0.6, 0.8, 0}, 1, true)
	if len(r) != 1 || r[0] != 1 {
		t.Errorf("Reduce = %v", r)
	}
	in := []float32{1.5, -2.25, float32(math.Pi), 0}
	out, err := FromBase64(Base64(in))
	if err != nil || len(out) != len(in) {
		t.Fatalf("FromBase64(Base64) = %v, %v", out, err)
	}
	for i := range in {
		if in[i] != out[i] {
			t.Errorf("round trip [%d] = %v, want %v", i, out[i], in[i])
		}
	}
	if _, err := FromBase64("AAA="); err == nil {
		t.Error("2-byte base64 accepted as a float32 array")
	}
	if c := Cosine([]float32{1, 0}, []float32{0, 1}); c != 0 {
		t.Errorf("Cosine orthogonal = %v", c)
	}
}

func TestRegistry(t *testing.T) {
	o := &OpenAI{Dims: 3}
	r, err := NewRegistry(&Model{ID: "a", Aliases: []string{"b"}, Embedder: o})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := r.Lookup("b"); !ok || m.ID != "a" || m.MaxInputs != 2048 {
		t.Errorf("Lookup(alias) = %+v, %v", m, ok)
	}
	if err := r.Add(&Model{ID: "b", Embedder: o}); err == nil {
		t.Error("duplicate name accepted")
	}
	if _, err := r.Get("zzz"); llm.AsError(err).Kind != llm.KindNotFound {
		t.Errorf("Get(unknown) = %v", err)
	}
}

// TestOpenAIOllama embeds through a real Ollama's /v1/embeddings, in one
// call (the shared Ollama is slow to embed with a chat model under load).
func TestOpenAIOllama(t *testing.T) {
	base := testenv.OllamaURL(t)
	o := &OpenAI{BaseURL: base + "/v1", Model: testenv.OllamaModel, Normalize: true}
	ctx := context.Background()
	r, err := o.Embed(ctx, []string{"the cat sat on the mat", "a cat was sitting on a mat", "quarterly revenue grew"})
	if err != nil {
		t.Fatal(err)
	}
	n := len(r.Vectors[0])
	if len(r.Vectors) != 3 || n == 0 || len(r.Vectors[2]) != n || r.TotalTokens() <= 0 {
		t.Fatalf("Embed: %d vectors of %d, tokens %v", len(r.Vectors), n, r.Tokens)
	}
	if math.Abs(Cosine(r.Vectors[0], r.Vectors[0])-1) > 1e-5 || math.Abs(float64(dotF(r.Vectors[1], r.Vectors[1]))-1) > 1e-4 {
		t.Error("vectors are not unit length after Normalize")
	}
	o.Dims = n
	if o.Dimensions() != n {
		t.Errorf("Dimensions = %d, want %d", o.Dimensions(), n)
	}
	bad := &OpenAI{BaseURL: base + "/v1", Model: "no-such-model:latest"}
	if _, err := bad.Embed(ctx, []string{"x"}); err == nil || llm.AsError(err).Kind == llm.KindInternal {
		t.Errorf("unknown upstream model: %v", err)
	}
}

func dotF(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// TestOpenAIUpstreamFailures replays the upstream failures a real server
// sends: a 429 with an OpenAI error body, a 500, and a body with too few
// vectors.
func TestOpenAIUpstreamFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   llm.ErrorKind
	}{
		{"throttled", 429, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, llm.KindThrottled},
		{"server", 500, `{"error":{"message":"llama runner process has terminated"}}`, llm.KindUnavailable},
		{"short", 200, `{"object":"list","data":[],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`, llm.KindModelError},
		{"garbage", 200, `<html>`, llm.KindModelError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			_, err := (&OpenAI{BaseURL: srv.URL + "/v1", Model: "m"}).Embed(context.Background(), []string{"x"})
			if got := llm.AsError(err).Kind; got != tc.kind {
				t.Errorf("kind = %v, want %v (%v)", got, tc.kind, err)
			}
		})
	}
}
