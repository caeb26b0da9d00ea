package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Target is one side of a comparison: an endpoint, a model and a profile.
type Target struct {
	Name    string // label in every output; unique within a run
	Client  Client
	Model   string
	Profile string // "" | standard | optimized
}

// Load shapes the traffic.
type Load struct {
	// Concurrency is the number of requests in flight in closed-loop mode,
	// and the cap on in-flight requests in fixed-rate mode (0: no cap).
	Concurrency int
	// Rate, when > 0, starts requests at this fixed rate per second
	// (open loop) instead of as soon as a worker is free.
	Rate float64
	// Duration stops starting new requests after this long (0: no bound).
	Duration time.Duration
	// MaxTime cancels everything still running after this long (0: none).
	MaxTime time.Duration
	// Warmup is the number of leading items sent to every target before
	// measuring; their records carry Warmup and stay out of the summary.
	Warmup int
}

// RunOptions is everything Run needs.
type RunOptions struct {
	Targets     []Target
	Items       []Item // the first Load.Warmup items are the warm-up
	Stream      bool
	Temperature *float64
	// DistinctPrompts prefixes each prompt with its target's name and item
	// number, so that targets behind one server do not share the prompt's
	// KV prefix cache (the second of a pair would otherwise skip prefill).
	// The prefix (about ten tokens) is not in Record.PromptTokens; the
	// server's Record.InputTokens includes it.
	DistinctPrompts bool
	Load            Load
	// OnRecord receives each finished record, one call at a time.
	OnRecord func(Record)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// RunInfo describes how a run ended.
type RunInfo struct {
	Started, Ended time.Time
	Planned        int    // measured requests planned (items × targets)
	Interrupted    bool   // stopped before every planned request finished
	StopReason     string // complete | duration | time-limit | interrupted | fatal-error
}

type job struct {
	item   Item
	target Target
	warmup bool
}

// Run sends every item to every target, interleaving targets item by item
// (rotating which goes first) so that drift in the machine hits all alike.
// It returns when all requests finished, the duration bound or time limit
// passed, ctx was cancelled, or a request failed in a way that will repeat
// (see Error.Fatal), which is returned.
func Run(ctx context.Context, o RunOptions) (RunInfo, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	info := RunInfo{Started: now()}
	if o.Load.MaxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Load.MaxTime)
		defer cancel()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var warm, measured []job
	for i, it := range o.Items {
		for k := range o.Targets {
			t := o.Targets[(i+k)%len(o.Targets)]
			if i < o.Load.Warmup {
				warm = append(warm, job{it, t, true})
			} else {
				measured = append(measured, job{it, t, false})
			}
		}
	}
	info.Planned = len(measured)

	var mu sync.Mutex // serialises seq and OnRecord
	seq := 0
	done := 0
	fatal := func(err error) {
		var be *Error
		if errors.As(err, &be) && be.Fatal() {
			cancel(be) // every further request would fail alike
		}
	}
	exec := func(j job) {
		mu.Lock()
		s := seq
		seq++
		mu.Unlock()
		rec, err := execute(ctx, now, s, j, o)
		if err != nil {
			fatal(err)
		}
		mu.Lock()
		if !j.warmup {
			done++
		}
		if o.OnRecord != nil {
			o.OnRecord(rec)
		}
		mu.Unlock()
	}
	// Warm-up: one request at a time, each target in turn.
	for _, j := range warm {
		if ctx.Err() != nil {
			break
		}
		exec(j)
	}
	var stopAt time.Time
	if o.Load.Duration > 0 {
		stopAt = now().Add(o.Load.Duration)
	}
	durationHit := false
	if ctx.Err() == nil {
		durationHit = dispatch(ctx, o.Load, measured, stopAt, now, exec)
	}

	info.Ended = now()
	cause := context.Cause(ctx)
	var be *Error
	switch {
	case errors.As(cause, &be):
		info.Interrupted, info.StopReason = true, "fatal-error"
		return info, be
	case errors.Is(cause, context.DeadlineExceeded):
		info.Interrupted, info.StopReason = true, "time-limit"
	case cause != nil:
		info.Interrupted, info.StopReason = true, "interrupted"
	case durationHit:
		info.Interrupted, info.StopReason = done < len(measured), "duration"
	default:
		info.StopReason = "complete"
	}
	return info, nil
}

// dispatch runs jobs with the load shape; it reports whether the duration
// bound stopped it early.
func dispatch(ctx context.Context, l Load, jobs []job, stopAt time.Time, now func() time.Time, exec func(job)) bool {
	expired := func() bool { return !stopAt.IsZero() && !now().Before(stopAt) }
	var wg sync.WaitGroup
	defer wg.Wait()
	if l.Rate <= 0 {
		workers := max(1, l.Concurrency)
		ch := make(chan job)
		for range workers {
			wg.Add(1)
			go func() { // ends when ch is closed
				defer wg.Done()
				for j := range ch {
					exec(j)
				}
			}()
		}
		defer close(ch)
		for _, j := range jobs {
			if expired() {
				return true
			}
			select {
			case ch <- j:
			case <-ctx.Done():
				return false
			}
		}
		return false
	}
	var slots chan struct{}
	if l.Concurrency > 0 {
		slots = make(chan struct{}, l.Concurrency)
	}
	interval := time.Duration(float64(time.Second) / l.Rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i, j := range jobs {
		if i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return false
			}
		}
		if expired() {
			return true
		}
		if slots != nil {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return false
			}
		}
		wg.Add(1)
		go func() { // ends when the request finishes or ctx is cancelled
			defer wg.Done()
			exec(j)
			if slots != nil {
				<-slots
			}
		}()
	}
	return false
}

// execute sends one request and turns what the client saw into a Record.
func execute(ctx context.Context, now func() time.Time, seq int, j job, o RunOptions) (Record, error) {
	rec := Record{
		Seq: seq, Item: j.item.Index, Target: j.target.Name, API: j.target.Client.API(), Endpoint: j.target.Client.Endpoint(),
		Model: j.target.Model, Warmup: j.warmup, ProfileRequested: j.target.Profile, Stream: o.Stream,
		Task: j.item.Task, InputTokensTarget: j.item.InputTokensTarget, PromptTokens: j.item.PromptTokens,
		PromptTokensMethod: j.item.PromptTokensMethod, OutputTokensTarget: j.item.OutputTokens,
	}
	prompt := j.item.Prompt
	if o.DistinctPrompts {
		prompt = fmt.Sprintf("[%s #%d]\n%s", j.target.Name, j.item.Index, prompt)
	}
	start := now()
	rec.Start = start.UTC()
	res, err := j.target.Client.Do(ctx, Request{
		Model: j.target.Model, Profile: j.target.Profile, System: j.item.System, Prompt: prompt,
		MaxTokens: j.item.OutputTokens, Temperature: o.Temperature, Stream: o.Stream,
	})
	fill(&rec, start, res)
	if err != nil {
		var be *Error
		if errors.As(err, &be) {
			rec.ErrorType, rec.HTTPStatus = be.Type, be.Status
		} else {
			rec.ErrorType = ErrOther
		}
		rec.Error = err.Error()
		// Timings of a failed request are not measurements.
		rec.TTFTMs, rec.TTLTMs, rec.OTPS, rec.ITLMs = nil, nil, nil, nil
	}
	return rec, err
}

func ms(d time.Duration) *float64 { return ptr(float64(d.Microseconds()) / 1000) }

// fill derives the per-request metrics from the client's observations.
func fill(rec *Record, start time.Time, res Result) {
	rec.Deployment, rec.RequestID, rec.StopReason = res.Deployment, res.RequestID, res.StopReason
	rec.ProfileServed, rec.ServerMs, rec.Chunks = res.ProfileServed, res.ServerMs, res.Chunks
	if !res.End.IsZero() {
		rec.E2EMs = ms(res.End.Sub(start))
	}
	if res.UsageReported {
		rec.InputTokens, rec.OutputTokens, rec.CachedTokens = res.InputTokens, res.OutputTokens, res.CachedTokens
		rec.UsageSource = "server"
	} else if res.Chunks > 0 || res.TextBytes > 0 {
		rec.OutputTokens = res.Chunks
		if !rec.Stream {
			rec.OutputTokens = (res.TextBytes + 3) / 4
		}
		rec.UsageSource = "estimated"
	}
	if res.First.IsZero() {
		return
	}
	rec.TTFTMs = ms(res.First.Sub(start))
	rec.TTLTMs = ms(res.Last.Sub(start))
	// Derived from the recorded (microsecond) values, so that a reader of
	// requests.jsonl gets exactly the same figures.
	gen := *rec.TTLTMs - *rec.TTFTMs
	if gen > 0 && rec.OutputTokens > 0 {
		rec.OTPS = ptr(float64(rec.OutputTokens) / (gen / 1000))
	}
	if gen > 0 && rec.OutputTokens > 1 {
		rec.ITLMs = ptr(gen / float64(rec.OutputTokens-1))
	}
}
