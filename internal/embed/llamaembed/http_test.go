package llamaembed

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"
	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/httpapi/bedrocktest"
	"github.com/outcrop/outcrop/internal/testenv"
)

// server serves the engine as all-minilm-l6-v2 (alias
// amazon.titan-embed-text-v2:0) through httpapi on a real listener.
func server(t *testing.T) (*Engine, string) {
	t.Helper()
	e := newEngine(t, Config{})
	reg, err := embed.NewRegistry(&embed.Model{ID: "all-minilm-l6-v2", Aliases: []string{"amazon.titan-embed-text-v2:0"}, Embedder: e})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Embeddings: reg}).Handler())
	t.Cleanup(srv.Close)
	return e, srv.URL
}

func TestOpenAIGoSDK(t *testing.T) {
	e, url := server(t)
	c := oai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	ctx := context.Background()
	want, err := e.Embed(ctx, []string{"alpha text", "beta text"})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []oai.EmbeddingNewParamsEncodingFormat{oai.EmbeddingNewParamsEncodingFormatFloat, oai.EmbeddingNewParamsEncodingFormatBase64} {
		resp, err := c.Embeddings.New(ctx, oai.EmbeddingNewParams{
			Model:          "all-minilm-l6-v2",
			Input:          oai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"alpha text", "beta text"}},
			EncodingFormat: format,
		})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if len(resp.Data) != 2 || int(resp.Usage.PromptTokens) != want.TotalTokens() {
			t.Fatalf("%s: %d vectors, %d tokens; want 2, %d", format, len(resp.Data), resp.Usage.PromptTokens, want.TotalTokens())
		}
		for i, d := range resp.Data {
			got := make([]float32, len(d.Embedding))
			for j, x := range d.Embedding {
				got[j] = float32(x)
			}
			if format == oai.EmbeddingNewParamsEncodingFormatBase64 {
				// The Go SDK leaves base64 undecoded in the raw JSON.
				var raw struct {
					Embedding string `json:"embedding"`
				}
				if err := json.Unmarshal([]byte(d.RawJSON()), &raw); err != nil {
					t.Fatal(err)
				}
				if got, err = embed.FromBase64(raw.Embedding); err != nil {
					t.Fatal(err)
				}
			}
			if c := embed.Cosine(got, want.Vectors[i]); c < 0.99999 || len(got) != 384 {
				t.Errorf("%s: vector %d: cosine %.6f, length %d", format, i, c, len(got))
			}
		}
	}
	resp, err := c.Embeddings.New(ctx, oai.EmbeddingNewParams{Model: "all-minilm-l6-v2", Input: oai.EmbeddingNewParamsInputUnion{OfString: oai.String("alpha text")}, Dimensions: oai.Int(64)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.Data[0].Embedding); n != 64 {
		t.Errorf("dimensions=64 returned %d values", n)
	}
	var apiErr *oai.Error
	for _, bad := range []oai.EmbeddingNewParams{
		{Model: "no-such-model", Input: oai.EmbeddingNewParamsInputUnion{OfString: oai.String("x")}},
		{Model: "all-minilm-l6-v2", Input: oai.EmbeddingNewParamsInputUnion{OfString: oai.String("x")}, Dimensions: oai.Int(385)},
		{Model: "all-minilm-l6-v2", Input: oai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{}}},
		{Model: "all-minilm-l6-v2", Input: oai.EmbeddingNewParamsInputUnion{OfArrayOfTokens: []int64{1, 2, 3}}},
	} {
		_, err := c.Embeddings.New(ctx, bad)
		if !errors.As(err, &apiErr) || apiErr.StatusCode >= 500 || apiErr.StatusCode < 400 {
			t.Errorf("bad request %+v: %v, want a 4xx", bad, err)
		}
	}
}

func TestTitanInvokeModelGoSDK(t *testing.T) {
	e, url := server(t)
	c := bedrocktest.Client(url)
	ctx := context.Background()
	want, _ := e.Embed(ctx, []string{"How do I reset my password?"})
	for _, model := range []string{"amazon.titan-embed-text-v2:0", "all-minilm-l6-v2", "arn:aws:bedrock:us-east-1::foundation-model/all-minilm-l6-v2"} {
		out, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
			ModelId:     aws.String(model),
			ContentType: aws.String("application/json"),
			Body:        []byte(`{"inputText":"How do I reset my password?"}`),
		})
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		var body struct {
			Embedding []float32 `json:"embedding"`
			Tokens    int       `json:"inputTextTokenCount"`
		}
		if err := json.Unmarshal(out.Body, &body); err != nil {
			t.Fatal(err)
		}
		if c := embed.Cosine(body.Embedding, want.Vectors[0]); c < 0.99999 || body.Tokens != want.Tokens[0] {
			t.Errorf("%s: cosine %.6f, tokens %d (want %d)", model, c, body.Tokens, want.Tokens[0])
		}
	}
	out, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("amazon.titan-embed-text-v2:0"),
		Body: []byte(`{"inputText":"abc","dimensions":256,"embeddingTypes":["float","binary"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	var typed struct {
		By struct {
			Float  []float32 `json:"float"`
			Binary []int     `json:"binary"`
		} `json:"embeddingsByType"`
	}
	json.Unmarshal(out.Body, &typed)
	if len(typed.By.Float) != 256 || len(typed.By.Binary) != 256 || embed.Cosine(typed.By.Float, typed.By.Float) < 0.999 {
		t.Errorf("embeddingsByType: %d floats, %d bits", len(typed.By.Float), len(typed.By.Binary))
	}
	for _, body := range []string{`{}`, `{"inputText":""}`, `{"inputText":"x","dimensions":0}`, `{"inputText":"x","bogus":1}`, `{"inputText":"x","embeddingTypes":["int8"]}`, `not json`} {
		_, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("amazon.titan-embed-text-v2:0"), Body: []byte(body)})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
			t.Errorf("body %s: %v, want ValidationException", body, err)
		}
	}
}

// TestPythonSDKs runs test/interop/python/embeddings.py (the OpenAI Python
// SDK and boto3) against the server.
func TestPythonSDKs(t *testing.T) {
	py := testenv.Python(t)
	e, url := server(t)
	wd, _ := os.Getwd()
	script := filepath.Join(wd, "..", "..", "..", "test", "interop", "python", "embeddings.py")
	cmd := exec.Command(py, script)
	cmd.Env = append(os.Environ(), "OUTCROP_URL="+url, "OUTCROP_MODEL=amazon.titan-embed-text-v2:0")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("embeddings.py: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got struct {
		Default struct {
			Embedding    []float32 `json:"embedding"`
			PromptTokens int       `json:"prompt_tokens"`
			Model        string    `json:"model"`
		} `json:"openai_default"`
		Float struct {
			Lengths []int `json:"lengths"`
			Indexes []int `json:"indexes"`
		} `json:"openai_float"`
		Missing int `json:"openai_missing"`
		Titan   struct {
			Length    int       `json:"length"`
			Tokens    int       `json:"tokens"`
			Embedding []float32 `json:"embedding"`
		} `json:"titan"`
		TitanBad string `json:"titan_bad"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want, _ := e.Embed(context.Background(), []string{"How do I reset my password?"})
	if c := embed.Cosine(got.Default.Embedding, want.Vectors[0]); c < 0.99999 || got.Default.PromptTokens != want.Tokens[0] {
		t.Errorf("openai default: cosine %.6f, tokens %d (want %d)", c, got.Default.PromptTokens, want.Tokens[0])
	}
	if strings.Join(strings.Fields(strings.Trim(jsonString(got.Float.Lengths), "[]")), "") != "128,128" || jsonString(got.Float.Indexes) != "[0,1]" {
		t.Errorf("openai float: lengths %v, indexes %v", got.Float.Lengths, got.Float.Indexes)
	}
	if got.Missing != http.StatusNotFound {
		t.Errorf("unknown model: status %d, want 404", got.Missing)
	}
	prefix := embed.Reduce(want.Vectors[0], 256, true)
	if got.Titan.Length != 256 || got.Titan.Tokens != want.Tokens[0] || embed.Cosine(got.Titan.Embedding, prefix) < 0.99999 {
		t.Errorf("titan: length %d, tokens %d", got.Titan.Length, got.Titan.Tokens)
	}
	if got.TitanBad != "ValidationException" {
		t.Errorf("titan bad dimensions: %q", got.TitanBad)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
