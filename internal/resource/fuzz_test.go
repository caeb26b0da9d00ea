package resource_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
)

// FuzzIdentifier: any path label resolves to a valid ID or a classified
// client error, never a panic or an internal error.
func FuzzIdentifier(f *testing.F) {
	for _, s := range []string{"ABCDE12345", "arn:aws:bedrock:us-east-1:000000000000:agent/ABCDE12345",
		"arn:aws:bedrock:us-east-1:000000000000:agent/ABCDE12345/alias/X", "arn:::::", "arn:aws:bedrock:r:a:agent/", ""} {
		f.Add(s)
	}
	sc := resource.Scope{}
	f.Fuzz(func(t *testing.T, ident string) {
		id, _, err := sc.Identifier("agentId", ident, "agent", "")
		if err == nil {
			if !resource.ValidID(id) {
				t.Fatalf("Identifier(%q) = %q, not a valid ID", ident, id)
			}
			return
		}
		var e *llm.Error
		if !errors.As(err, &e) || (e.Kind != llm.KindValidation && e.Kind != llm.KindNotFound) {
			t.Fatalf("Identifier(%q) error %v is not a client error", ident, err)
		}
	})
}

// FuzzNextToken: a client-supplied page token never fails as an internal
// error.
func FuzzNextToken(f *testing.F) {
	for _, s := range []string{"", "e30", "eyJpIjoiQUJDIiwidiI6MX0", "!!", strings.Repeat("A", 3000)} {
		f.Add(s)
	}
	db, err := store.Open(context.Background(), store.Options{DSN: filepath.Join(f.TempDir(), "outcrop.db")})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	s := resource.NewStore(db, resource.Scope{}, nil)
	f.Fuzz(func(t *testing.T, tok string) {
		_, _, err := s.List(context.Background(), resource.ListQuery{Account: "1", Kind: "w", Page: resource.Page{NextToken: tok}})
		if err == nil {
			return
		}
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != llm.KindValidation {
			t.Fatalf("List(nextToken %q) error %v, want a ValidationException", tok, err)
		}
	})
}
