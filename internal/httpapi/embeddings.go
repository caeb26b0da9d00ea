package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// Embedding routes: POST /v1/embeddings (OpenAI) and InvokeModel on an
// embedding model with the Amazon Titan text-embeddings body. Both are
// authorized as bedrock:InvokeModel on the model's foundation-model ARN and
// run through Deps.EmbeddingGateway (package embed: the stages, then the
// deployment from Deps.Embeddings).

// maxEmbeddingInputBytes bounds one input text (Titan's limit is 50,000
// characters; longer texts are truncated to the model's token limit anyway).
const maxEmbeddingInputBytes = 200_000

// embeddingModel resolves a model id, alias or foundation-model ARN to an
// embedding model.
func (s *Server) embeddingModel(id string) (*embed.Model, bool) {
	if s.d.Embeddings == nil || id == "" {
		return nil, false
	}
	if m, ok := s.d.Embeddings.Lookup(id); ok {
		return m, true
	}
	if strings.HasPrefix(id, "arn:") {
		if i := strings.LastIndex(id, "/"); i >= 0 {
			return s.d.Embeddings.Lookup(id[i+1:])
		}
	}
	return nil, false
}

// openAIEmbeddingRequest is the body of POST /v1/embeddings.
type openAIEmbeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	Dimensions     *int            `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
	User           string          `json:"user"`
}

func openAIInvalid(format string, args ...any) error {
	return llm.Errorf(llm.KindValidation, format, args...)
}

// embeddingInputs decodes OpenAI's input: a string or an array of strings.
// Token arrays are refused: they are ids in the caller's tokenizer, which
// need not be the model's.
func embeddingInputs(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, openAIInvalid("'input' is a required property")
	}
	var one string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, openAIInvalid("'input' is not a valid string")
		}
		if one == "" {
			return nil, openAIInvalid("'input' cannot be an empty string")
		}
		return []string{one}, nil
	}
	var many []json.RawMessage
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, openAIInvalid("'input' must be a string or an array of strings")
	}
	if len(many) == 0 {
		return nil, openAIInvalid("'input' cannot be an empty array")
	}
	out := make([]string, len(many))
	for i, m := range many {
		m = bytes.TrimSpace(m)
		if len(m) == 0 || m[0] != '"' {
			return nil, openAIInvalid("'input[%d]' must be a string: token arrays are not supported", i)
		}
		if err := json.Unmarshal(m, &out[i]); err != nil {
			return nil, openAIInvalid("'input[%d]' is not a valid string", i)
		}
		if out[i] == "" {
			return nil, openAIInvalid("'input[%d]' cannot be an empty string", i)
		}
	}
	return out, nil
}

// embeddings serves POST /v1/embeddings.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) error {
	body, err := s.a.ReadBody(r)
	if err != nil {
		return err
	}
	var req openAIEmbeddingRequest
	if err := DecodeJSON(body, &req); err != nil {
		return err
	}
	if req.Model == "" {
		return openAIInvalid("'model' is a required property")
	}
	m, ok := s.embeddingModel(req.Model)
	if !ok {
		return llm.Errorf(llm.KindNotFound, "The model `%s` does not exist or is not an embedding model.", req.Model)
	}
	if s.d.EmbeddingGateway == nil {
		if err := s.a.Authorize(r, "bedrock:InvokeModel", ModelARN(s.d.Region, m.ID)); err != nil {
			return err
		}
	}
	inputs, err := embeddingInputs(req.Input)
	if err != nil {
		return err
	}
	if len(inputs) > m.MaxInputs {
		return openAIInvalid("'input' has %d items; the maximum is %d", len(inputs), m.MaxInputs)
	}
	for i, in := range inputs {
		if len(in) > maxEmbeddingInputBytes {
			return openAIInvalid("'input[%d]' is longer than %d bytes", i, maxEmbeddingInputBytes)
		}
	}
	native := m.Embedder.Dimensions()
	dims := native
	if req.Dimensions != nil {
		if *req.Dimensions < 1 || *req.Dimensions > native {
			return openAIInvalid("'dimensions' must be between 1 and %d for model %s", native, m.ID)
		}
		dims = *req.Dimensions
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return openAIInvalid("'encoding_format' must be 'float' or 'base64'")
	}
	res, err := s.embed(r, "openai", "Embeddings", m, inputs)
	if err != nil {
		return err
	}
	type item struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
	data := make([]item, len(res.Vectors))
	for i, v := range res.Vectors {
		if dims != len(v) {
			v = embed.Reduce(v, dims, true)
		}
		var e any = v
		if req.EncodingFormat == "base64" {
			e = embed.Base64(v)
		}
		data[i] = item{Object: "embedding", Index: i, Embedding: e}
	}
	n := res.TotalTokens()
	return WriteJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data":   data,
		"model":  m.ID,
		"usage":  map[string]int{"prompt_tokens": n, "total_tokens": n},
	})
}

// titanEmbeddingRequest is the InvokeModel body of Amazon Titan text
// embeddings (v1: inputText; v2 adds dimensions, normalize, embeddingTypes).
type titanEmbeddingRequest struct {
	InputText      *string  `json:"inputText"`
	Dimensions     *int     `json:"dimensions"`
	Normalize      *bool    `json:"normalize"`
	EmbeddingTypes []string `json:"embeddingTypes"`
}

// invokeEmbedding serves InvokeModel on an embedding model. The vector is
// the model's own (L2-normalized for sentence-transformers models);
// `dimensions` keeps a prefix of it and `normalize` (default true)
// renormalizes that prefix. `embeddingTypes` "binary" is the sign of each
// value as 0/1, as Titan v2 returns it.
func (s *Server) invokeEmbedding(w http.ResponseWriter, r *http.Request, m *embed.Model) error {
	start := s.d.Now()
	if s.d.EmbeddingGateway == nil {
		if err := s.a.Authorize(r, "bedrock:InvokeModel", ModelARN(s.d.Region, r.PathValue("modelId"))); err != nil {
			return err
		}
	}
	body, err := s.a.ReadBody(r)
	if err != nil {
		return err
	}
	var req titanEmbeddingRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return bedrockInvalid("Malformed input request: %s, please reformat your input and try again.", strings.TrimPrefix(err.Error(), "json: "))
	}
	if req.InputText == nil {
		return bedrockInvalid("Malformed input request: #: required key [inputText] not found, please reformat your input and try again.")
	}
	if *req.InputText == "" || len(*req.InputText) > maxEmbeddingInputBytes {
		return constraint("inputText", "Member must have length between 1 and "+strconv.Itoa(maxEmbeddingInputBytes))
	}
	native := m.Embedder.Dimensions()
	dims := native
	if req.Dimensions != nil {
		if *req.Dimensions < 1 || *req.Dimensions > native {
			return bedrockInvalid("Malformed input request: #/dimensions: %d is not a valid value for this model (1..%d), please reformat your input and try again.", *req.Dimensions, native)
		}
		dims = *req.Dimensions
	}
	normalize := req.Normalize == nil || *req.Normalize
	wantFloat, wantBinary := len(req.EmbeddingTypes) == 0, false
	for _, t := range req.EmbeddingTypes {
		switch t {
		case "float":
			wantFloat = true
		case "binary":
			wantBinary = true
		default:
			return bedrockInvalid("Malformed input request: #/embeddingTypes: %q is not a valid enum value, please reformat your input and try again.", t)
		}
	}
	res, err := s.embed(r, "bedrock", "InvokeModel", m, []string{*req.InputText})
	if err != nil {
		return err
	}
	v := res.Vectors[0]
	if dims != len(v) {
		v = embed.Reduce(v, dims, normalize)
	}
	out := map[string]any{"inputTextTokenCount": res.TotalTokens()}
	if wantFloat {
		out["embedding"] = v
	}
	if len(req.EmbeddingTypes) > 0 {
		by := map[string]any{}
		if wantFloat {
			by["float"] = v
		}
		if wantBinary {
			bits := make([]int, len(v))
			for i, x := range v {
				if x > 0 {
					bits[i] = 1
				}
			}
			by["binary"] = bits
		}
		out["embeddingsByType"] = by
	}
	h := w.Header()
	h.Set(headerInputTokens, strconv.Itoa(res.TotalTokens()))
	h.Set(headerOutputTokens, "0")
	h.Set(headerInvokeLatency, strconv.FormatInt(s.d.Now().Sub(start).Milliseconds(), 10))
	return WriteJSON(w, http.StatusOK, out)
}

// embed runs an embedding call through the embedding pipeline, or straight
// to the model when there is none.
func (s *Server) embed(r *http.Request, api, op string, m *embed.Model, inputs []string) (embed.Result, error) {
	if s.d.EmbeddingGateway == nil {
		return m.Embedder.Embed(r.Context(), inputs)
	}
	c := &gateway.Call{API: api, Op: op, Action: ActionInvokeModel, Resource: ModelARN(s.d.Region, m.ID), RequestID: RequestID(r.Context()), Received: s.d.Now()}
	return embed.Call(r.Context(), s.d.EmbeddingGateway, c, m, inputs)
}
