package kb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/vector"
)

// memo wraps the real engine with a cache of the texts it has embedded, so
// that thousands of queries over a small pool of texts stay fast.
type memo struct {
	embed.Embedder
	mu sync.Mutex
	m  map[string][]float32
}

func (c *memo) Embed(ctx context.Context, texts []string) (embed.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var miss []string
	for _, t := range texts {
		if _, ok := c.m[t]; !ok {
			miss = append(miss, t)
		}
	}
	if len(miss) > 0 {
		r, err := c.Embedder.Embed(ctx, miss)
		if err != nil {
			return r, err
		}
		for i, t := range miss {
			c.m[t] = r.Vectors[i]
		}
	}
	out := embed.Result{}
	for _, t := range texts {
		out.Vectors = append(out.Vectors, c.m[t])
		out.Tokens = append(out.Tokens, 1)
	}
	return out, nil
}

// TestIsolationRandomized (OWASP LLM08): two accounts, three principals in
// each, every principal bound to the documents its groups may read. 3,000
// random Retrieve calls, with random request filters that try to widen the
// binding (orAll with other groups, notEquals, notIn, missing keys) and
// random knowledge-base ids of the other account, must return no document
// outside the caller's allowed set and nothing of the other account.
func TestIsolationRandomized(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	db, err := store.Open(ctx, store.Options{DSN: filepath.Join(home, "outcrop.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	idx, err := vector.OpenEmbedded(filepath.Join(home, "vectors.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	m := &memo{Embedder: minilm(t), m: map[string][]float32{}}
	reg, _ := embed.NewRegistry(&embed.Model{ID: "all-minilm-l6-v2", Embedder: m})
	groups := []string{"eng", "ops", "legal", "hr"}
	type principal struct {
		p       *auth.Principal
		account string
		allowed map[string]bool // groups
	}
	var ps []principal
	bound := map[string]*vector.Filter{}
	rng := rand.New(rand.NewPCG(42, 14))
	for _, acct := range []string{"111111111111", "222222222222"} {
		for i := 0; i < 3; i++ {
			name := fmt.Sprintf("user-%s-%d", acct[:1], i)
			allowed := map[string]bool{groups[i]: true}
			if i == 2 {
				allowed[groups[3]] = true
			}
			var vals []any
			for g := range allowed {
				vals = append(vals, g)
			}
			bound[name] = &vector.Filter{Op: vector.OpIn, Key: "group", Value: vals}
			ps = append(ps, principal{p: &auth.Principal{Name: name, ARN: "arn:aws:iam::" + acct + ":user/" + name}, account: acct, allowed: allowed})
		}
	}
	svc := &kb.Service{Store: resource.NewStore(db, resource.Scope{}, nil), Index: idx, Embeddings: reg, BoundFilters: bound}
	topics := []string{"password reset", "travel booking", "salary review", "server outage", "contract renewal", "holiday calendar", "security audit", "expense report"}
	kbs := map[string]string{} // account -> kb id
	for _, acct := range []string{"111111111111", "222222222222"} {
		actx := auth.WithPrincipal(ctx, &auth.Principal{Name: "admin", ARN: "arn:aws:iam::" + acct + ":user/admin"})
		k, err := svc.CreateKnowledgeBase(actx, &kb.KnowledgeBaseInput{Name: "kb", RoleArn: "arn:aws:iam::" + acct + ":role/kb",
			KnowledgeBaseConfiguration: json.RawMessage(`{"type":"VECTOR","vectorKnowledgeBaseConfiguration":{"embeddingModelArn":"all-minilm-l6-v2"}}`)})
		if err != nil {
			t.Fatal(err)
		}
		kbs[acct] = k.KnowledgeBaseID
		ds, err := svc.CreateDataSource(actx, k.KnowledgeBaseID, &kb.DataSourceInput{Name: "direct", DataSourceConfiguration: &kb.DataSourceConfiguration{Type: "CUSTOM"}})
		if err != nil {
			t.Fatal(err)
		}
		for batch := 0; batch < 6; batch++ {
			var docs []kb.Document
			for j := 0; j < 10; j++ {
				g := groups[rng.IntN(len(groups))]
				text := fmt.Sprintf("%s notes for %s, account %s, item %d", topics[rng.IntN(len(topics))], g, acct, batch*10+j)
				raw := fmt.Sprintf(`{"content":{"dataSourceType":"CUSTOM","custom":{"customDocumentIdentifier":{"id":"doc-%d"},"sourceType":"IN_LINE","inlineContent":{"type":"TEXT","textContent":{"data":%q}}}},
					"metadata":{"type":"IN_LINE_ATTRIBUTE","inlineAttributes":[{"key":"group","value":{"type":"STRING","stringValue":%q}},{"key":"account","value":{"type":"STRING","stringValue":%q}}]}}`, batch*10+j, text, g, acct)
				var d kb.Document
				if err := json.Unmarshal([]byte(raw), &d); err != nil {
					t.Fatal(err)
				}
				docs = append(docs, d)
			}
			det, err := svc.IngestDocuments(actx, k.KnowledgeBaseID, ds.DataSourceID, docs)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range det {
				if d.Status != "INDEXED" {
					t.Fatalf("document not indexed: %+v", d)
				}
			}
		}
	}
	widen := func() json.RawMessage {
		g := groups[rng.IntN(len(groups))]
		switch rng.IntN(7) {
		case 0:
			return nil
		case 1:
			return json.RawMessage(fmt.Sprintf(`{"orAll":[{"equals":{"key":"group","value":%q}},{"notEquals":{"key":"group","value":%q}}]}`, g, g))
		case 2:
			return json.RawMessage(fmt.Sprintf(`{"notEquals":{"key":"group","value":%q}}`, g))
		case 3:
			return json.RawMessage(`{"notIn":{"key":"nosuchkey","value":["x"]}}`)
		case 4:
			return json.RawMessage(fmt.Sprintf(`{"in":{"key":"group","value":["eng","ops","legal","hr",%q]}}`, g))
		case 5:
			return json.RawMessage(`{"orAll":[{"equals":{"key":"account","value":"111111111111"}},{"equals":{"key":"account","value":"222222222222"}}]}`)
		}
		return json.RawMessage(fmt.Sprintf(`{"equals":{"key":"group","value":%q}}`, g))
	}
	returned, denied := 0, 0
	for q := 0; q < 3000; q++ {
		pr := ps[rng.IntN(len(ps))]
		pctx := auth.WithPrincipal(ctx, pr.p)
		target := kbs[pr.account]
		other := rng.IntN(5) == 0
		if other {
			for acct, id := range kbs {
				if acct != pr.account {
					target = id
				}
			}
		}
		var in kb.RetrieveInput
		in.RetrievalQuery.Text = topics[rng.IntN(len(topics))]
		n := 1 + rng.IntN(20)
		in.RetrievalConfiguration = &struct {
			VectorSearchConfiguration *struct {
				NumberOfResults    *int            `json:"numberOfResults"`
				OverrideSearchType string          `json:"overrideSearchType"`
				Filter             json.RawMessage `json:"filter"`
			} `json:"vectorSearchConfiguration"`
		}{VectorSearchConfiguration: &struct {
			NumberOfResults    *int            `json:"numberOfResults"`
			OverrideSearchType string          `json:"overrideSearchType"`
			Filter             json.RawMessage `json:"filter"`
		}{NumberOfResults: &n, OverrideSearchType: []string{"SEMANTIC", "HYBRID"}[rng.IntN(2)], Filter: widen()}}
		res, err := svc.Retrieve(pctx, target, &in)
		if other {
			if llm.AsError(err).Kind != llm.KindNotFound {
				t.Fatalf("%s reached the other account's knowledge base %s: %v, %d results", pr.p.Name, target, err, len(res))
			}
			denied++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			g, _ := r.Metadata["group"].(string)
			if !pr.allowed[g] || r.Metadata["account"] != pr.account {
				t.Fatalf("query %d: %s (allowed %v, account %s) got a document of group %q, account %v", q, pr.p.Name, pr.allowed, pr.account, g, r.Metadata["account"])
			}
		}
		returned += len(res)
	}
	if returned == 0 || denied == 0 {
		t.Fatalf("the test exercised nothing: %d results, %d cross-account attempts", returned, denied)
	}
	t.Logf("3000 queries: %d results, all inside the caller's groups and account; %d cross-account attempts refused", returned, denied)
}
