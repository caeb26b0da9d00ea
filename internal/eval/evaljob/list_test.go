package evaljob

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
)

// TestListPages lists jobs one per page in both orders, jobs created in the
// same millisecond included: every job appears exactly once, in order.
func TestListPages(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DSN: filepath.Join(t.TempDir(), "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	s := &Service{Store: resource.NewStore(db, resource.Scope{}, func() time.Time { return now })}
	var ids []string
	for i := range 5 {
		if i == 3 {
			now = now.Add(time.Second) // jobs 0-2 share a timestamp
		}
		id := NewJobID()
		b := body{Job: Job{JobName: "j" + id, JobArn: s.ARN(resource.DefaultAccount, id), Status: StatusCompleted, CreationTime: s.Store.Now()}}
		raw, _ := json.Marshal(b)
		if _, err := s.Store.Create(ctx, resource.Key{Account: resource.DefaultAccount, Kind: kind, ID: id}, b.JobName, "", json.RawMessage(raw)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, order := range []string{"Ascending", "Descending"} {
		var seen []string
		tok := ""
		for range 10 {
			page, next, err := s.ListEvaluationJobs(ctx, ListInput{SortOrder: order, Page: resource.Page{MaxResults: 1, NextToken: tok}})
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range page {
				seen = append(seen, j.JobArn)
			}
			if next == "" {
				break
			}
			tok = next
		}
		if len(seen) != len(ids) {
			t.Fatalf("%s: %d jobs listed, want %d: %v", order, len(seen), len(ids), seen)
		}
		set := map[string]bool{}
		for _, a := range seen {
			set[a] = true
		}
		if len(set) != len(ids) {
			t.Fatalf("%s: a job listed twice: %v", order, seen)
		}
	}
}
