// Package flowkb runs flow KnowledgeBase nodes on Outcrop's knowledge
// bases (internal/kb), as a library: Retrieve for a node without a modelId,
// RetrieveAndGenerate for one with a modelId. It is a package of its own so
// that internal/flow does not link the knowledge-base stack.
package flowkb

import (
	"context"
	"encoding/json"

	"github.com/outcrop/outcrop/internal/flow"
	"github.com/outcrop/outcrop/internal/kb"
)

// KnowledgeBases implements flow.KnowledgeBases on a kb.Service. The
// caller's account and principal come from the context, as for the
// Retrieve API (so principal-bound filters apply to flow nodes too).
type KnowledgeBases struct {
	Service *kb.Service
}

var _ flow.KnowledgeBases = (*KnowledgeBases)(nil)

// retrievalConfiguration is the vectorSearchConfiguration a node sets.
func retrievalConfiguration(n int) json.RawMessage {
	if n <= 0 {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"vectorSearchConfiguration": map[string]int{"numberOfResults": n}})
	return b
}

// Retrieve implements flow.KnowledgeBases: the results in Retrieve's
// retrievalResults shape.
func (k *KnowledgeBases) Retrieve(ctx context.Context, q flow.KBQuery) (flow.Value, error) {
	var in kb.RetrieveInput
	in.RetrievalQuery.Text = q.Query
	if rc := retrievalConfiguration(q.NumberOfResults); rc != nil {
		if err := json.Unmarshal(rc, &in.RetrievalConfiguration); err != nil {
			return nil, err
		}
	}
	res, err := k.Service.Retrieve(ctx, q.KnowledgeBaseID, &in)
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = []kb.RetrievalResult{}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	return flow.ParseValue(b)
}

// RetrieveAndGenerate implements flow.KnowledgeBases: the generated answer.
func (k *KnowledgeBases) RetrieveAndGenerate(ctx context.Context, q flow.KBQuery) (string, error) {
	gen := map[string]any{}
	if q.PromptTemplate != "" {
		gen["promptTemplate"] = map[string]string{"textPromptTemplate": q.PromptTemplate}
	}
	if q.Inference != nil {
		gen["inferenceConfig"] = map[string]any{"textInferenceConfig": q.Inference}
	}
	if q.GuardrailID != "" {
		gen["guardrailConfiguration"] = map[string]string{"guardrailId": q.GuardrailID, "guardrailVersion": q.GuardrailVersion}
	}
	kc := map[string]any{"knowledgeBaseId": q.KnowledgeBaseID, "modelArn": q.ModelID, "generationConfiguration": gen}
	if rc := retrievalConfiguration(q.NumberOfResults); rc != nil {
		kc["retrievalConfiguration"] = rc
	}
	body, err := json.Marshal(map[string]any{"input": map[string]string{"text": q.Query},
		"retrieveAndGenerateConfiguration": map[string]any{"type": "KNOWLEDGE_BASE", "knowledgeBaseConfiguration": kc}})
	if err != nil {
		return "", err
	}
	var in kb.RAGInput
	if err := json.Unmarshal(body, &in); err != nil {
		return "", err
	}
	out, err := k.Service.RetrieveAndGenerate(ctx, &in)
	if err != nil {
		return "", err
	}
	return out.Output.Text, nil
}
