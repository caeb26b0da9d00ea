package flow

import (
	"context"
	"fmt"
)

// KnowledgeBases serves KnowledgeBase nodes: Retrieve when the node has no
// modelId (the node's output retrievalResults is the array of results, in
// Retrieve's retrievalResults shape), RetrieveAndGenerate when it has one
// (the output outputText is the generated answer). internal/flow/flowkb
// implements it on internal/kb.
type KnowledgeBases interface {
	Retrieve(ctx context.Context, q KBQuery) (Value, error)
	RetrieveAndGenerate(ctx context.Context, q KBQuery) (string, error)
}

// KBQuery is one KnowledgeBase node run: the node's configuration and its
// retrievalQuery input.
type KBQuery struct {
	KnowledgeBaseID string
	Query           string
	// ModelID is the canonical ID of the generating model (empty for
	// Retrieve).
	ModelID string
	// NumberOfResults is the number of passages to retrieve; 0 means the
	// knowledge base's default.
	NumberOfResults int
	// PromptTemplate is the generation prompt template (it must contain
	// $search_results$); empty means the default.
	PromptTemplate string
	Inference      *TextInference
	// GuardrailID and GuardrailVersion apply a guardrail to the generation.
	GuardrailID, GuardrailVersion string
}

// TextInference is a node's inferenceConfiguration.text.
type TextInference struct {
	Temperature   *float64 `json:"temperature"`
	TopP          *float64 `json:"topP"`
	MaxTokens     *int     `json:"maxTokens"`
	StopSequences []string `json:"stopSequences"`
}

// KnowledgeBaseConfig is the KnowledgeBase node's configuration (the
// members Outcrop uses; the others are accepted and ignored).
type KnowledgeBaseConfig struct {
	KnowledgeBaseID string `json:"knowledgeBaseId"`
	ModelID         string `json:"modelId"`
	NumberOfResults *int   `json:"numberOfResults"`
	PromptTemplate  *struct {
		TextPromptTemplate string `json:"textPromptTemplate"`
	} `json:"promptTemplate"`
	InferenceConfiguration *struct {
		Text *TextInference `json:"text"`
	} `json:"inferenceConfiguration"`
	GuardrailConfiguration *struct {
		GuardrailIdentifier string `json:"guardrailIdentifier"`
		GuardrailVersion    string `json:"guardrailVersion"`
	} `json:"guardrailConfiguration"`
}

func (r *Runner) knowledgeBase(ctx context.Context, _ *Execution, run *Run) Event {
	fail := func(format string, args ...any) Event {
		return Event{Failed: &NodeFailed{Activation: run.Activation,
			Message: fmt.Sprintf("knowledge base node %q: ", run.Node.Name) + fmt.Sprintf(format, args...)}}
	}
	if r.KnowledgeBases == nil {
		return fail("knowledge bases are not configured on this server")
	}
	var kc KnowledgeBaseConfig
	if _, err := run.Node.config(&kc); err != nil {
		return fail("%v", err)
	}
	q := KBQuery{KnowledgeBaseID: kc.KnowledgeBaseID}
	for _, in := range run.Inputs {
		if in.Name == "retrievalQuery" {
			q.Query = valueText(in.Value)
		}
	}
	if kc.NumberOfResults != nil {
		q.NumberOfResults = *kc.NumberOfResults
	}
	if kc.PromptTemplate != nil {
		q.PromptTemplate = kc.PromptTemplate.TextPromptTemplate
	}
	if kc.InferenceConfiguration != nil {
		q.Inference = kc.InferenceConfiguration.Text
	}
	if g := kc.GuardrailConfiguration; g != nil {
		q.GuardrailID, q.GuardrailVersion = g.GuardrailIdentifier, g.GuardrailVersion
	}
	if kc.ModelID == "" {
		v, err := r.KnowledgeBases.Retrieve(ctx, q)
		if err != nil {
			return fail("%v", err)
		}
		return Event{Done: &NodeDone{Activation: run.Activation, Outputs: map[string]Value{"retrievalResults": v}}}
	}
	id, err := r.model(kc.ModelID)
	if err != nil {
		return fail("%v", err)
	}
	q.ModelID = id
	text, err := r.KnowledgeBases.RetrieveAndGenerate(ctx, q)
	if err != nil {
		return fail("%v", err)
	}
	return Event{Done: &NodeDone{Activation: run.Activation, Outputs: map[string]Value{"outputText": text}}}
}
