package embed

import (
	"context"
	"errors"
	"io"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// Embedding calls go through a gateway pipeline like model calls, so that
// authorization, limits and quotas, the audit record and the request
// metrics apply to them. The pipeline's stages see an ordinary
// gateway.Call: Op "Embeddings" or "InvokeModel", the embedding model's
// canonical ID and foundation-model ARN, and a Request holding the input
// texts as one user message, so that limits and the audit record see the
// text. The pipeline's final handler is Final, which runs the embedding
// model; the vectors travel back beside the event stream, in the context,
// because events carry text, not vectors. The stream Final returns carries
// the input token count in its metadata event (Usage.InputTokens), which
// the quota stage charges and the metrics record.

// Doer runs a call through a pipeline (gateway.Gateway.Do).
type Doer interface {
	Do(ctx context.Context, c *gateway.Call) (llm.Stream, error)
}

type jobKey struct{}

// job is one embedding request on its way through the pipeline.
type job struct {
	model  *Model
	inputs []string
	res    Result
}

// Call embeds inputs with m through the pipeline g. c describes the call
// for the stages (API, Op, Action, Resource; Model and Request are filled
// in here).
func Call(ctx context.Context, g Doer, c *gateway.Call, m *Model, inputs []string) (Result, error) {
	j := &job{model: m, inputs: inputs}
	blocks := make([]llm.Block, len(inputs))
	for i, in := range inputs {
		blocks[i] = llm.TextBlock(in)
	}
	c.Model = m.ID
	c.Request = &llm.Request{Model: m.ID, Messages: []llm.Message{{Role: llm.RoleUser, Content: blocks}}}
	s, err := g.Do(context.WithValue(ctx, jobKey{}, j), c)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	for {
		if _, err := s.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return Result{}, err
		}
	}
	if j.res.Vectors == nil {
		return Result{}, llm.Errorf(llm.KindInternal, "the embedding pipeline did not reach the model")
	}
	return j.res, nil
}

// Final is the final handler of an embedding pipeline: it embeds the
// inputs of the call that Call started and returns a stream with their
// token count as usage.
func Final(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
	j, _ := ctx.Value(jobKey{}).(*job)
	if j == nil {
		return nil, llm.Errorf(llm.KindInternal, "an embedding call reached the pipeline without its inputs")
	}
	c.SetServed(llm.Served{Model: j.model.ID, Deployment: j.model.ID, Provider: "embedding", Attempts: 1})
	res, err := j.model.Embedder.Embed(ctx, j.inputs)
	if err != nil {
		return nil, err
	}
	j.res = res
	u := llm.Usage{InputTokens: res.TotalTokens()}
	return &llm.SliceStream{Events: []llm.Event{
		{Type: llm.EventMessageStart},
		{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn},
		{Type: llm.EventMetadata, Usage: &u},
	}}, nil
}
