package kb

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/vector"
)

// RetrieveInput is the body of Retrieve.
type RetrieveInput struct {
	RetrievalQuery struct {
		Text string `json:"text"`
		Type string `json:"type"`
	} `json:"retrievalQuery"`
	RetrievalConfiguration *struct {
		VectorSearchConfiguration *struct {
			NumberOfResults    *int            `json:"numberOfResults"`
			OverrideSearchType string          `json:"overrideSearchType"`
			Filter             json.RawMessage `json:"filter"`
		} `json:"vectorSearchConfiguration"`
	} `json:"retrievalConfiguration"`
	NextToken string `json:"nextToken"`
}

// RetrievalResult is one entry of retrievalResults.
type RetrievalResult struct {
	Content struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	Location struct {
		Type       string `json:"type"`
		S3Location *struct {
			URI string `json:"uri"`
		} `json:"s3Location,omitempty"`
		CustomDocumentLocation *struct {
			ID string `json:"id"`
		} `json:"customDocumentLocation,omitempty"`
	} `json:"location"`
	Metadata map[string]any `json:"metadata"`
	Score    float64        `json:"score"`
}

// Retrieve searches a knowledge base. The principal's bound filter, if any,
// is ANDed to the request's.
func (s *Service) Retrieve(ctx context.Context, kbIdent string, in *RetrieveInput) ([]RetrievalResult, error) {
	q := in.RetrievalQuery.Text
	if q == "" || len(q) > 20000 {
		return nil, resource.Invalid("retrievalQuery.text", "Member must have length between 1 and 20000")
	}
	if in.RetrievalQuery.Type != "" && in.RetrievalQuery.Type != "TEXT" {
		return nil, resource.Invalidf("Only TEXT retrieval queries are supported.")
	}
	k := 5
	mode := vector.Semantic
	var flt *vector.Filter
	if rc := in.RetrievalConfiguration; rc != nil && rc.VectorSearchConfiguration != nil {
		v := rc.VectorSearchConfiguration
		if v.NumberOfResults != nil {
			k = *v.NumberOfResults
			if k < 1 || k > 100 {
				return nil, resource.Invalid("retrievalConfiguration.vectorSearchConfiguration.numberOfResults", "Member must have value between 1 and 100")
			}
		}
		switch v.OverrideSearchType {
		case "", "SEMANTIC":
		case "HYBRID":
			mode = vector.Hybrid
		default:
			return nil, resource.Invalid("retrievalConfiguration.vectorSearchConfiguration.overrideSearchType", "Member must satisfy enum value set: [HYBRID, SEMANTIC]")
		}
		var err error
		if flt, err = vector.ParseFilter(v.Filter); err != nil {
			return nil, err
		}
	}
	kb, err := s.GetKnowledgeBase(ctx, kbIdent)
	if err != nil {
		return nil, err
	}
	m, err := s.embeddingModel(kb.EmbeddingModel)
	if err != nil {
		return nil, err
	}
	r, err := m.Embedder.Embed(ctx, []string{q})
	if err != nil {
		return nil, err
	}
	vec := r.Vectors[0]
	if len(vec) > kb.Dimensions {
		vec = vec[:kb.Dimensions]
	}
	if p, ok := auth.PrincipalFrom(ctx); ok && p != nil {
		if bound := s.BoundFilters[p.Name]; bound != nil {
			flt = vector.And(bound, flt)
		}
	}
	acct := s.account(ctx)
	// Hierarchical chunks return their parents: fetch more children so that
	// k distinct parents remain after merging.
	hits, err := s.Index.Search(ctx, collection(acct, kb.KnowledgeBaseID), vector.Query{Vector: vec, Text: q, K: 3 * k, Filter: flt, Mode: mode})
	if err != nil {
		return nil, llm.Errorf(llm.KindInternal, "search: %v", err)
	}
	out := make([]RetrievalResult, 0, k)
	parents := map[string]bool{}
	for _, h := range hits {
		if len(out) == k {
			break
		}
		text := h.Text
		if p, ok := h.Metadata[metaParent].(string); ok {
			if parents[p] {
				continue
			}
			parents[p] = true
			text = p
		}
		var rr RetrievalResult
		rr.Content.Type, rr.Content.Text = "TEXT", text
		md := map[string]any{}
		for key, v := range h.Metadata {
			if key != metaParent {
				md[key] = v
			}
		}
		rr.Metadata, rr.Score = md, h.Score
		uri, _ := h.Metadata[MetaSourceURI].(string)
		if strings.HasPrefix(uri, "s3://") {
			rr.Location.Type = "S3"
			rr.Location.S3Location = &struct {
				URI string `json:"uri"`
			}{uri}
		} else {
			rr.Location.Type = "CUSTOM"
			rr.Location.CustomDocumentLocation = &struct {
				ID string `json:"id"`
			}{uri}
		}
		out = append(out, rr)
	}
	return out, nil
}
