package resource_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

type doc struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	N       int    `json:"n"`
}

func kindOf(err error) (llm.ErrorKind, bool) {
	var e *llm.Error
	if errors.As(err, &e) {
		return e.Kind, true
	}
	return 0, false
}

func wantKind(t *testing.T, what string, err error, want llm.ErrorKind) {
	t.Helper()
	k, ok := kindOf(err)
	if !ok || k != want {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func newStore(t *testing.T, db *store.DB) *resource.Store {
	return resource.NewStore(db, resource.Scope{Region: "eu-west-1", Account: "111122223333"}, nil)
}

func TestLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		k := resource.Key{Account: "111122223333", Kind: "widget"}
		it, err := s.Create(ctx, k, "first", "tok-1", doc{Name: "first", Version: resource.Draft})
		if err != nil {
			t.Fatal(err)
		}
		if !resource.ValidID(it.ID) || it.Version != resource.Draft {
			t.Fatalf("Create = %+v, want a 10-char ID and DRAFT", it)
		}
		k.ID = it.ID

		again, err := s.Create(ctx, resource.Key{Account: k.Account, Kind: k.Kind}, "first", "tok-1", doc{Name: "first"})
		if err != nil || again.ID != it.ID {
			t.Fatalf("repeated Create with the same client token = %v, %v; want the first resource %s", again, err, it.ID)
		}
		_, err = s.Create(ctx, resource.Key{Account: k.Account, Kind: k.Kind}, "first", "tok-2", doc{})
		wantKind(t, "duplicate name", err, llm.KindConflict)
		// The same name in another account or under another parent is fine.
		if _, err := s.Create(ctx, resource.Key{Account: "999999999999", Kind: k.Kind}, "first", "", doc{}); err != nil {
			t.Fatalf("same name in another account: %v", err)
		}
		if _, err := s.Create(ctx, resource.Key{Account: k.Account, Kind: k.Kind, Parent: "OTHERPARNT"}, "first", "", doc{}); err != nil {
			t.Fatalf("same name under another parent: %v", err)
		}

		up, err := s.Update(ctx, k, func(it *resource.Item) error {
			d, err := resource.Decode[doc](it)
			if err != nil {
				return err
			}
			d.N = 7
			it.Body, _ = json.Marshal(d)
			it.Name = "renamed"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if up.Name != "renamed" || up.UpdatedAt.Before(up.CreatedAt) {
			t.Fatalf("Update = %+v", up)
		}

		v1, err := s.CreateVersion(ctx, k, func(it *resource.Item) error {
			d, _ := resource.Decode[doc](it)
			d.Version = it.Version
			it.Body, _ = json.Marshal(d)
			return nil
		})
		if err != nil || v1.Version != "1" {
			t.Fatalf("CreateVersion = %v, %v; want version 1", v1, err)
		}
		if _, err := s.Update(ctx, k, func(it *resource.Item) error { it.Body = json.RawMessage(`{"n":8}`); return nil }); err != nil {
			t.Fatal(err)
		}
		got1, err := s.Get(ctx, k, "1")
		if err != nil {
			t.Fatal(err)
		}
		d1, _ := resource.Decode[doc](got1)
		if d1.N != 7 || d1.Version != "1" {
			t.Fatalf("version 1 = %+v, want the DRAFT as it was when frozen (n 7, version 1)", d1)
		}
		v2, err := s.CreateVersion(ctx, k, nil)
		if err != nil || v2.Version != "2" {
			t.Fatalf("second CreateVersion = %v, %v", v2, err)
		}
		if err := s.DeleteVersion(ctx, k, "2"); err != nil {
			t.Fatal(err)
		}
		v3, err := s.CreateVersion(ctx, k, nil)
		if err != nil || v3.Version != "3" {
			t.Fatalf("version after deleting 2 = %v, %v; want 3 (numbers are never reused)", v3, err)
		}
		wantKind(t, "delete DRAFT alone", s.DeleteVersion(ctx, k, resource.Draft), llm.KindValidation)
		wantKind(t, "delete missing version", s.DeleteVersion(ctx, k, "2"), llm.KindNotFound)
		_, err = s.Get(ctx, k, "2")
		wantKind(t, "get deleted version", err, llm.KindNotFound)
		_, err = s.Get(ctx, k, "02")
		wantKind(t, "get malformed version", err, llm.KindValidation)

		vs, next, err := s.List(ctx, resource.ListQuery{Account: k.Account, Kind: k.Kind, ID: k.ID})
		if err != nil || next != "" {
			t.Fatal(err, next)
		}
		var labels []string
		for _, v := range vs {
			labels = append(labels, v.Version)
		}
		if got, want := labels, []string{"DRAFT", "1", "3"}; !equal(got, want) {
			t.Fatalf("versions = %v, want %v", got, want)
		}
		vs, _, _ = s.List(ctx, resource.ListQuery{Account: k.Account, Kind: k.Kind, ID: k.ID, NumberedOnly: true})
		if len(vs) != 2 {
			t.Fatalf("numbered versions = %d, want 2", len(vs))
		}

		// Children are deleted with their owner.
		child, err := s.Create(ctx, resource.Key{Account: k.Account, Kind: "widget-alias", Parent: k.ID}, "live", "", doc{})
		if err != nil {
			t.Fatal(err)
		}
		grand, err := s.Create(ctx, resource.Key{Account: k.Account, Kind: "widget-part", Parent: k.ID + "/DRAFT"}, "p", "", doc{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		for _, key := range []resource.Key{k, child.Key, grand.Key} {
			_, err := s.Get(ctx, key, "")
			wantKind(t, "get after delete "+key.Kind, err, llm.KindNotFound)
		}
		wantKind(t, "delete twice", s.Delete(ctx, k), llm.KindNotFound)
		_, _, err = s.List(ctx, resource.ListQuery{Account: k.Account, Kind: k.Kind, ID: k.ID})
		wantKind(t, "versions of a deleted resource", err, llm.KindNotFound)
		// The name is free again.
		if _, err := s.Create(ctx, resource.Key{Account: k.Account, Kind: k.Kind}, "renamed", "", doc{}); err != nil {
			t.Fatalf("reuse a deleted resource's name: %v", err)
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAccountsAreIsolated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		it, err := s.Create(ctx, resource.Key{Account: "111111111111", Kind: "widget"}, "mine", "", doc{})
		if err != nil {
			t.Fatal(err)
		}
		other := resource.Key{Account: "222222222222", Kind: "widget", ID: it.ID}
		_, err = s.Get(ctx, other, "")
		wantKind(t, "get from another account", err, llm.KindNotFound)
		_, err = s.Update(ctx, other, func(*resource.Item) error { return nil })
		wantKind(t, "update from another account", err, llm.KindNotFound)
		_, err = s.CreateVersion(ctx, other, nil)
		wantKind(t, "version from another account", err, llm.KindNotFound)
		wantKind(t, "delete from another account", s.Delete(ctx, other), llm.KindNotFound)
		items, _, err := s.List(ctx, resource.ListQuery{Account: "222222222222", Kind: "widget"})
		if err != nil || len(items) != 0 {
			t.Fatalf("list of another account = %d items, %v; want none", len(items), err)
		}
		if _, err := s.Get(ctx, it.Key, ""); err != nil {
			t.Fatalf("owner lost its resource: %v", err)
		}
	})
}

func TestListPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		const n = 23
		want := map[string]bool{}
		for i := 0; i < n; i++ {
			it, err := s.Create(ctx, resource.Key{Account: "1", Kind: "widget"}, "w"+strconv.Itoa(i), "", doc{N: i})
			if err != nil {
				t.Fatal(err)
			}
			want[it.ID] = true
		}
		seen := map[string]bool{}
		tok := ""
		pages := 0
		deleted := false
		for {
			items, next, err := s.List(ctx, resource.ListQuery{Account: "1", Kind: "widget", Page: resource.Page{MaxResults: 5, NextToken: tok}})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, it := range items {
				if seen[it.ID] {
					t.Fatalf("item %s listed twice", it.ID)
				}
				seen[it.ID] = true
			}
			if !deleted && len(items) > 0 {
				// Deleting an item already listed must not shift the pages.
				if err := s.Delete(ctx, items[0].Key); err != nil {
					t.Fatal(err)
				}
				deleted = true
			}
			if next == "" {
				break
			}
			tok = next
		}
		if len(seen) != n || pages != 5 {
			t.Fatalf("listed %d items in %d pages, want %d in 5", len(seen), pages, n)
		}
		for id := range want {
			if !seen[id] {
				t.Fatalf("item %s never listed", id)
			}
		}
		for _, bad := range []resource.Page{{NextToken: "!!!"}, {NextToken: "e30"}, {MaxResults: 1001}, {MaxResults: -1}} {
			_, _, err := s.List(ctx, resource.ListQuery{Account: "1", Kind: "widget", Page: bad})
			if bad.NextToken == "e30" { // "{}" decodes: a token at the start is harmless
				if err != nil {
					t.Fatalf("List(%+v) = %v", bad, err)
				}
				continue
			}
			wantKind(t, "bad page "+bad.NextToken, err, llm.KindValidation)
		}
	})
}

func TestConcurrentVersions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		it, err := s.Create(ctx, resource.Key{Account: "1", Kind: "widget"}, "w", "", doc{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		got := make(chan string, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := s.CreateVersion(ctx, it.Key, nil)
				if err != nil {
					t.Error(err)
					return
				}
				got <- v.Version
			}()
		}
		wg.Wait()
		close(got)
		seen := map[string]bool{}
		for v := range got {
			if seen[v] {
				t.Fatalf("version %s handed out twice", v)
			}
			seen[v] = true
		}
		if len(seen) != 8 {
			t.Fatalf("%d distinct versions, want 8", len(seen))
		}
	})
}

func TestIdentifier(t *testing.T) {
	sc := resource.Scope{Region: "us-west-2", Account: "123456789012"}
	tests := []struct {
		name, ident  string
		wantID, rest string
		kind         llm.ErrorKind
		wantErr      bool
	}{
		{name: "bare id", ident: "ABCDE12345", wantID: "ABCDE12345"},
		{name: "arn", ident: "arn:aws:bedrock:us-west-2:123456789012:prompt/ABCDE12345", wantID: "ABCDE12345"},
		{name: "arn with version", ident: "arn:aws:bedrock:us-west-2:123456789012:prompt/ABCDE12345:3", wantID: "ABCDE12345", rest: ":3"},
		{name: "arn other account", ident: "arn:aws:bedrock:us-west-2:999999999999:prompt/ABCDE12345", wantErr: true, kind: llm.KindNotFound},
		{name: "arn other type", ident: "arn:aws:bedrock:us-west-2:123456789012:flow/ABCDE12345", wantErr: true, kind: llm.KindNotFound},
		{name: "short id", ident: "ABC", wantErr: true, kind: llm.KindValidation},
		{name: "empty", ident: "", wantErr: true, kind: llm.KindValidation},
		{name: "not an arn", ident: "arn:nope", wantErr: true, kind: llm.KindValidation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, rest, err := sc.Identifier("promptIdentifier", tc.ident, "prompt", "")
			if tc.wantErr {
				wantKind(t, tc.ident, err, tc.kind)
				return
			}
			if err != nil || id != tc.wantID || rest != tc.rest {
				t.Fatalf("Identifier(%q) = %q, %q, %v; want %q, %q", tc.ident, id, rest, err, tc.wantID, tc.rest)
			}
		})
	}
	if got, want := sc.ARN("", "agent-alias", "AAAAAAAAAA", "BBBBBBBBBB"), "arn:aws:bedrock:us-west-2:123456789012:agent-alias/AAAAAAAAAA/BBBBBBBBBB"; got != want {
		t.Fatalf("ARN = %q, want %q", got, want)
	}
}

func TestAccountFromPrincipal(t *testing.T) {
	sc := resource.Scope{Account: "123456789012"}
	if got := resource.Account(context.Background(), sc); got != "123456789012" {
		t.Fatalf("Account(no principal) = %q, want the scope's", got)
	}
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Name: "alice", ARN: auth.UserARN("555566667777", "alice")})
	if got := resource.Account(ctx, sc); got != "555566667777" {
		t.Fatalf("Account(alice) = %q, want 555566667777", got)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		id := resource.NewID()
		if !resource.ValidID(id) {
			t.Fatalf("NewID() = %q, not a valid ID", id)
		}
		for _, c := range id {
			if c >= 'a' && c <= 'z' {
				t.Fatalf("NewID() = %q has lower-case letters", id)
			}
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidators(t *testing.T) {
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"name ok", resource.Name("agentName", "travel-agent_1"), true},
		{"name empty", resource.Name("agentName", ""), false},
		{"name space", resource.Name("agentName", "travel agent"), false},
		{"name double dash", resource.Name("agentName", "a--b"), false},
		{"length ok", resource.Length("instruction", "0123456789", 1, 10), true},
		{"length long", resource.Length("instruction", "0123456789a", 1, 10), false},
		{"optional empty", resource.OptionalLength("description", "", 1, 200), true},
		{"range", resource.Range("idleSessionTTLInSeconds", 59, 60, 5400), false},
		{"tags", resource.Tags("tags", map[string]string{"": "x"}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", tc.err, tc.ok)
			}
			if tc.err != nil {
				wantKind(t, tc.name, tc.err, llm.KindValidation)
			}
		})
	}
}

func TestTimestampsAreMilliseconds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
		s := resource.NewStore(db, resource.Scope{}, func() time.Time { return at })
		it, err := s.Create(context.Background(), resource.Key{Account: "1", Kind: "w"}, "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(context.Background(), it.Key, "")
		if err != nil {
			t.Fatal(err)
		}
		want := at.UTC().Truncate(time.Millisecond)
		if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("CreatedAt = %v, want %v UTC", got.CreatedAt, want)
		}
	})
}
