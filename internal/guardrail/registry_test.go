package guardrail

import (
	"context"
	"errors"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

func TestRegistry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg := NewRegistry(db, RegistryOptions{})
		d := base()
		d.WordPolicyConfig = &WordPolicyConfig{WordsConfig: []Word{{Text: "zebra"}}}
		d.ClientRequestToken = "tok-1"
		g, err := reg.Create(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		again, err := reg.Create(ctx, d)
		if err != nil || again.GuardrailID != g.GuardrailID {
			t.Fatalf("idempotent create = %v, %v; want %s", again, err, g.GuardrailID)
		}
		d2 := base()
		d2.WordPolicyConfig = d.WordPolicyConfig
		var le *llm.Error
		if _, err := reg.Create(ctx, d2); !errors.As(err, &le) || le.Kind != llm.KindConflict {
			t.Fatalf("duplicate name: err = %v, want ConflictException", err)
		}
		for want := 1; want <= 2; want++ {
			v, err := reg.CreateVersion(ctx, g.GuardrailARN, "")
			if err != nil || v != itoa(want) {
				t.Fatalf("CreateVersion = %q, %v; want %d", v, err, want)
			}
		}
		if err := reg.Delete(ctx, g.GuardrailID, "1"); err != nil {
			t.Fatal(err)
		}
		if v, _ := reg.CreateVersion(ctx, g.GuardrailID, ""); v != "3" {
			t.Fatalf("version after deleting 1 = %q, want 3 (numbers are never reused)", v)
		}
		items, next, err := reg.List(ctx, g.GuardrailID, 2, "")
		if err != nil || len(items) != 2 || next == "" {
			t.Fatalf("List page 1 = %v, %q, %v", items, next, err)
		}
		items, next, err = reg.List(ctx, g.GuardrailID, 2, next)
		if err != nil || len(items) != 1 || next != "" {
			t.Fatalf("List page 2 = %v, %q, %v", items, next, err)
		}
		c, err := reg.Compiled(ctx, g.GuardrailID, "3")
		if err != nil || c.G.Version != "3" {
			t.Fatalf("Compiled = %v, %v", c, err)
		}

		cd := base()
		cd.Name = "from-config"
		cd.WordPolicyConfig = &WordPolicyConfig{WordsConfig: []Word{{Text: "llama"}}}
		eg, err := reg.Ensure(ctx, cd)
		if err != nil || eg.GuardrailID != ConfigID("from-config") {
			t.Fatalf("Ensure = %v, %v", eg, err)
		}
		same, err := reg.Ensure(ctx, cd)
		if err != nil || !same.UpdatedAt.Equal(eg.UpdatedAt) {
			t.Fatalf("Ensure unchanged rewrote the draft: %v, %v", same, err)
		}
		cd.BlockedInputMessaging = "changed"
		if ch, err := reg.Ensure(ctx, cd); err != nil || ch.BlockedInputMessaging != "changed" {
			t.Fatalf("Ensure changed = %v, %v", ch, err)
		}
	})
}
