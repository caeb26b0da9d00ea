package flowkb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/embed/bertgguf"
	"github.com/outcrop/outcrop/internal/embed/llamaembed"
	"github.com/outcrop/outcrop/internal/flow"
	"github.com/outcrop/outcrop/internal/flow/flowkb"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/guardrail"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/testenv"
	"github.com/outcrop/outcrop/internal/vector"
)

// builtinEmbedder is Outcrop's built-in embedding model (all-MiniLM-L6-v2
// converted to GGUF and run on the built-in engine).
func builtinEmbedder(t *testing.T) *llamaembed.Engine {
	t.Helper()
	dir := testenv.EmbedModelDir(t)
	p := filepath.Join(t.TempDir(), "minilm.gguf")
	if _, err := bertgguf.Convert(dir, p, "all-MiniLM-L6-v2"); err != nil {
		t.Fatal(err)
	}
	eng, err := llamaembed.New(llamaembed.Config{Path: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

var docs = map[string]string{
	"paris": "Paris travel notes. The Louvre opens at nine; the Eiffel Tower is best at dusk. Take the metro line 1 along the Seine.",
	"rome":  "Rome travel notes. The Colosseum and the Roman Forum share one ticket. Book the Vatican Museums a week ahead.",
	"tokyo": "Tokyo travel notes. Shibuya crossing is busiest at eight in the evening. The Tsukiji outer market opens early.",
}

// kbFlow is Input → KnowledgeBase (config) → Output (outType).
func kbFlow(config, output, outType string) string {
	return `{"nodes": [
 {"name": "In", "type": "Input", "configuration": {"input": {}}, "outputs": [{"name": "document", "type": "String"}]},
 {"name": "Notes", "type": "KnowledgeBase", "configuration": {"knowledgeBase": ` + config + `},
  "inputs": [{"name": "retrievalQuery", "type": "String", "expression": "$.data"}], "outputs": [{"name": "` + output + `", "type": "` + outType + `"}]},
 {"name": "Out", "type": "Output", "configuration": {"output": {}}, "inputs": [{"name": "document", "type": "` + outType + `", "expression": "$.data"}]}
], "connections": [
 {"name": "c1", "source": "In", "target": "Notes", "type": "Data", "configuration": {"data": {"sourceOutput": "document", "targetInput": "retrievalQuery"}}},
 {"name": "c2", "source": "Notes", "target": "Out", "type": "Data", "configuration": {"data": {"sourceOutput": "` + output + `", "targetInput": "document"}}}
]}`
}

// TestKnowledgeBaseNode runs KnowledgeBase nodes on a real knowledge base
// ingested from three documents with the built-in embedder: without a
// modelId the node returns Retrieve's results (numberOfResults of them,
// the relevant passage first); with a modelId (an alias) it answers through
// RetrieveAndGenerate on the canonical model, with the node's prompt
// template and inference configuration, and its guardrail blocks a
// forbidden question before the model is called.
func TestKnowledgeBaseNode(t *testing.T) {
	eng := builtinEmbedder(t)
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Name: "tester", ARN: "arn:aws:iam::000000000000:user/tester"})
	home := t.TempDir()
	db, err := store.Open(ctx, store.Options{DSN: filepath.Join(home, "outcrop.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	idx, err := vector.OpenEmbedded(filepath.Join(home, "vectors.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	reg, _ := embed.NewRegistry(&embed.Model{ID: "all-minilm-l6-v2", Aliases: []string{"amazon.titan-embed-text-v2:0"}, Embedder: eng})

	// The generating model: an OpenAI-compatible upstream over HTTP behind
	// the gateway, with the guardrail stage.
	var mu sync.Mutex
	var prompts []string
	up := providertest.NewUpstreamFunc(t, func(c providertest.Call) *providertest.Fixture {
		mu.Lock()
		prompts = append(prompts, string(c.Body))
		mu.Unlock()
		b, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion", "model": "fixture-model",
			"choices": []map[string]any{{"index": 0, "message": map[string]any{"role": "assistant", "content": "The Colosseum is in Rome."}, "finish_reason": "stop"}},
			"usage":   map[string]int{"prompt_tokens": 80, "completion_tokens": 7, "total_tokens": 87}})
		return &providertest.Fixture{Response: "HTTP/1.1 200 OK\nContent-Type: application/json\n\n" + string(b) + "\n"}
	})
	p, err := openai.New(openai.Config{BaseURL: up.URL, Model: "fixture-model"})
	if err != nil {
		t.Fatal(err)
	}
	router := routing.New([]*routing.Model{{ID: "amazon.nova-lite-v1:0", Aliases: []string{"nova"}, Deployments: []*routing.Deployment{{Name: "scripted", Provider: p, Type: "openai", Weight: 1}}}})
	guards := guardrail.NewRegistry(db, guardrail.RegistryOptions{})
	g, err := guards.Create(ctx, &guardrail.Definition{Name: "nofalcon", BlockedInputMessaging: "Sorry, input blocked.", BlockedOutputsMessaging: "Sorry, output blocked.",
		WordPolicyConfig: &guardrail.WordPolicyConfig{WordsConfig: []guardrail.Word{{Text: "Project Falcon"}}}})
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.Options{Stages: []gateway.Stage{&guardrail.Stage{Resolver: guards}}, Final: router.Route})

	svc := &kb.Service{Store: resource.NewStore(db, resource.Scope{}, nil), Index: idx, Embeddings: reg, Root: filepath.Join(home, "kb"), Models: gw}
	k, err := svc.CreateKnowledgeBase(ctx, &kb.KnowledgeBaseInput{Name: "travel", RoleArn: "arn:aws:iam::000000000000:role/kb",
		KnowledgeBaseConfiguration: json.RawMessage(`{"type":"VECTOR","vectorKnowledgeBaseConfiguration":{"embeddingModelArn":"amazon.titan-embed-text-v2:0"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := svc.CreateDataSource(ctx, k.KnowledgeBaseID, &kb.DataSourceInput{Name: "notes", DataSourceConfiguration: &kb.DataSourceConfiguration{Type: "CUSTOM"}})
	if err != nil {
		t.Fatal(err)
	}
	var in []kb.Document
	for id, text := range docs {
		raw := fmt.Sprintf(`{"content":{"dataSourceType":"CUSTOM","custom":{"customDocumentIdentifier":{"id":%q},"sourceType":"IN_LINE","inlineContent":{"type":"TEXT","textContent":{"data":%q}}}}}`, id, text)
		var d kb.Document
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			t.Fatal(err)
		}
		in = append(in, d)
	}
	det, err := svc.IngestDocuments(ctx, k.KnowledgeBaseID, ds.DataSourceID, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range det {
		if d.Status != "INDEXED" {
			t.Fatalf("ingestion: %+v", det)
		}
	}

	resolve := func(id string) (string, bool) {
		m, ok := router.Lookup(id)
		if !ok {
			return "", false
		}
		return m.ID, true
	}
	x := flow.NewExecutor(flow.ExecutorOptions{DB: db, Nodes: &flow.Runner{Models: gw, Resolve: resolve, KnowledgeBases: &flowkb.KnowledgeBases{Service: svc}}})
	run := func(def string, doc flow.Value) []flow.StoredEvent {
		t.Helper()
		e, err := x.Start(ctx, flow.StartInput{Account: "000000000000", FlowID: "F", AliasID: "A", FlowVersion: "1", Definition: json.RawMessage(def), Document: doc})
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Drive(ctx, e.Account, e.ID, nil); err != nil {
			t.Fatal(err)
		}
		evs, err := x.Events(ctx, e.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	output := func(evs []flow.StoredEvent) (any, string) {
		for _, ev := range evs {
			var m map[string]any
			json.Unmarshal(ev.Payload, &m)
			switch ev.Type {
			case flow.EventOutput:
				return m["content"].(map[string]any)["document"], ""
			case "dependencyFailedException", "validationException":
				return nil, fmt.Sprint(m["message"])
			}
		}
		return nil, "no output"
	}

	// Retrieve: the two best passages, Rome's first.
	got, fail := output(run(kbFlow(`{"knowledgeBaseId": "`+k.KnowledgeBaseID+`", "numberOfResults": 2}`, "retrievalResults", "Array"), "Where is the Colosseum?"))
	res, _ := got.([]any)
	if fail != "" || len(res) != 2 {
		t.Fatalf("Retrieve node: %v %s; want 2 results", got, fail)
	}
	first, _ := json.Marshal(res[0])
	if !strings.Contains(string(first), "Colosseum") || !strings.Contains(string(first), `"score"`) {
		t.Fatalf("first result = %s; want Rome's passage with its score", first)
	}

	// RetrieveAndGenerate on the model's alias, with the node's template.
	gen := `{"knowledgeBaseId": "` + k.KnowledgeBaseID + `", "modelId": "nova", "numberOfResults": 1,
	  "promptTemplate": {"textPromptTemplate": "Travel notes:\n$search_results$\nAnswer from the notes only: $query$"},
	  "inferenceConfiguration": {"text": {"maxTokens": 64, "temperature": 0}},
	  "guardrailConfiguration": {"guardrailIdentifier": "` + g.GuardrailID + `", "guardrailVersion": "DRAFT"}}`
	got, fail = output(run(kbFlow(gen, "outputText", "String"), "Where is the Colosseum?"))
	if fail != "" || got != "The Colosseum is in Rome." {
		t.Fatalf("RetrieveAndGenerate node: %v %s", got, fail)
	}
	mu.Lock()
	if len(prompts) != 1 || !strings.Contains(prompts[0], "Answer from the notes only: Where is the Colosseum?") ||
		!strings.Contains(prompts[0], "Roman Forum") || strings.Contains(prompts[0], "Shibuya") || !strings.Contains(prompts[0], `"max_tokens":64`) {
		t.Fatalf("the model got %q; want the node's template with Rome's passage only and max_tokens 64", prompts)
	}
	mu.Unlock()

	// The node's guardrail blocks the question; the model is not called.
	got, fail = output(run(kbFlow(gen, "outputText", "String"), "Tell me about Project Falcon"))
	mu.Lock()
	n := len(prompts)
	mu.Unlock()
	if fail != "" || got != "Sorry, input blocked." || n != 1 {
		t.Fatalf("guarded node: %v %s, %d model calls; want the blocked-input message and no call", got, fail, n-1)
	}

	// An unknown knowledge base fails the node.
	if _, fail = output(run(kbFlow(`{"knowledgeBaseId": "NOSUCHKB00"}`, "retrievalResults", "Array"), "x")); fail == "" {
		t.Fatal("unknown knowledge base: no failure")
	}
}
