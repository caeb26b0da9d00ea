package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/llm"
)

// DefaultThreshold is the semantic cache's default minimum cosine
// similarity between a question and a cached one, for the built-in
// all-MiniLM-L6-v2 embeddings: on held-out QQP questions it serves hits with
// 96.2 % precision and 0.70 % false hits (docs/CACHING.md says how it was
// chosen; TestSemanticPublishedFigures holds the figures).
const DefaultThreshold = 0.94

// Namespace says where a question may find a cached answer. Tenant is the
// scope allowed to share answers (one principal, or the account when the
// operator configured it); Context fingerprints everything but the question
// itself: model, deployment version, parameters, system prompt, tools,
// guardrail and earlier turns. Indexes never return a question stored under
// another Namespace.
type Namespace struct {
	Tenant  string
	Context string
}

// Question is one indexed question.
type Question struct {
	// Key is the exact-cache key of the answer.
	Key string
	// Text is the normalized question, as it was embedded.
	Text string
	// Vector is its embedding.
	Vector []float32
}

// Match is the nearest question of a namespace.
type Match struct {
	// Key is the exact-cache key of its answer; "" when the namespace
	// holds no live question.
	Key string
	// Text is the stored question (for verification).
	Text string
	// Similarity is the cosine similarity to the query, in [-1, 1].
	Similarity float64
}

// SemanticIndex finds the nearest stored question within a namespace.
// Implementations are safe for concurrent use and held to the conformance
// suite in package cachetest (RunSemantic).
type SemanticIndex interface {
	// Search returns the live question of ns most similar to v.
	Search(ctx context.Context, ns Namespace, v []float32) (Match, error)
	// Add stores q in ns for ttl (> 0), replacing a question with the same
	// key.
	Add(ctx context.Context, ns Namespace, q Question, ttl time.Duration) error
}

// SemanticOptions switch the semantic cache on for some models.
type SemanticOptions struct {
	// Embedder embeds the normalized last user turn. Required.
	Embedder embed.Embedder
	// Index holds the questions. Required.
	Index SemanticIndex
	// Thresholds opts models in (by resolved model ID), each with its
	// minimum cosine similarity for a hit.
	Thresholds map[string]float64
	// Scope is who may share a reworded question's answer: ScopePrincipal
	// (default) or ScopeAccount, which takes effect only when the exact
	// cache's Options.Scope is ScopeAccount too (a hit is re-checked against
	// the stored entry's scope). So an operator may share exact repeats
	// across an account but keep the lossier semantic hits within each
	// principal, not the reverse.
	Scope string
	// Verify, when set, must agree before a semantic hit is served: it is
	// given the query and the cached question (both normalized).
	Verify func(query, cached string) bool
}

// Normalize lower-cases text, keeps letters, digits and spaces (other
// characters become spaces) and collapses runs of spaces.
func Normalize(text string) string {
	var b strings.Builder
	space := true
	for _, r := range strings.ToLower(text) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			space = false
		} else if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimSpace(b.String())
}

// maxQuestionBytes bounds the question the semantic cache embeds; longer
// turns are left to the exact cache (a sentence model truncates them, so
// two long turns that differ only at the end would look identical).
const maxQuestionBytes = 2000

// lastUserText returns the text of the last message when it is a user
// turn made only of text blocks, else "" (the semantic cache leaves tool
// results, images and documents to the exact cache).
func lastUserText(req *llm.Request) string {
	if len(req.Messages) == 0 {
		return ""
	}
	m := req.Messages[len(req.Messages)-1]
	if m.Role != llm.RoleUser {
		return ""
	}
	var parts []string
	for _, b := range m.Content {
		if b.Kind != llm.KindText {
			return ""
		}
		parts = append(parts, b.Text)
	}
	return strings.Join(parts, "\n")
}

// semanticNamespace is the namespace of req's question: the tenant, and the
// exact key of the request with the last user turn left out (without the
// tenant, which the Namespace carries itself), so that only requests that
// agree on model, parameters, system prompt, tools, guardrail and history
// can share an answer.
func semanticNamespace(tenant string, in KeyInput, req *llm.Request) Namespace {
	r := *req
	r.Messages = req.Messages[:len(req.Messages)-1]
	in.Scope = ""
	return Namespace{Tenant: tenant, Context: Key(in, &r)}
}

// hashName returns a short stable name for s, for index collection and
// Redis key names.
func hashName(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
