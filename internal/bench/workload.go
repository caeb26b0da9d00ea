package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
)

// The seed's four task types.
const (
	TaskSequenceCounting = "sequence-counting"
	TaskStoryWriting     = "story-writing"
	TaskSummarization    = "summarization"
	TaskTranslation      = "translation"
)

// Tasks lists the built-in task types in report order.
var Tasks = []string{TaskSequenceCounting, TaskStoryWriting, TaskSummarization, TaskTranslation}

// Range is a set of token counts: either [Min, Max] (sampled log-uniformly
// for inputs and uniformly for outputs, so that a 100–100,000 input range
// fills every order of magnitude) or an explicit list cycled in order.
type Range struct {
	Min, Max int
	Values   []int
}

// ParseRange parses "N", "A-B" or "A,B,C".
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	num := func(t string) (int, error) {
		t = strings.TrimSpace(strings.ReplaceAll(t, "_", ""))
		mul := 1
		if strings.HasSuffix(strings.ToLower(t), "k") {
			mul, t = 1000, t[:len(t)-1]
		}
		n, err := strconv.Atoi(t)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("token count %q is not a positive integer", t)
		}
		return n * mul, nil
	}
	switch {
	case strings.Contains(s, ","):
		var r Range
		for _, p := range strings.Split(s, ",") {
			n, err := num(p)
			if err != nil {
				return Range{}, err
			}
			r.Values = append(r.Values, n)
		}
		r.Min, r.Max = slicesMin(r.Values), slicesMax(r.Values)
		return r, nil
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		lo, err := num(a)
		if err != nil {
			return Range{}, err
		}
		hi, err := num(b)
		if err != nil {
			return Range{}, err
		}
		if hi < lo {
			return Range{}, fmt.Errorf("range %q: upper bound below lower bound", s)
		}
		return Range{Min: lo, Max: hi}, nil
	default:
		n, err := num(s)
		if err != nil {
			return Range{}, err
		}
		return Range{Min: n, Max: n}, nil
	}
}

// String formats r the way ParseRange reads it.
func (r Range) String() string {
	if len(r.Values) > 0 {
		parts := make([]string, len(r.Values))
		for i, v := range r.Values {
			parts[i] = strconv.Itoa(v)
		}
		return strings.Join(parts, ",")
	}
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

func (r Range) pick(rng *rand.Rand, i int, logScale bool) int {
	if len(r.Values) > 0 {
		return r.Values[i%len(r.Values)]
	}
	if r.Max <= r.Min {
		return r.Min
	}
	if logScale {
		lo, hi := math.Log(float64(r.Min)), math.Log(float64(r.Max))
		return int(math.Round(math.Exp(lo + rng.Float64()*(hi-lo))))
	}
	return r.Min + rng.IntN(r.Max-r.Min+1)
}

// TaskWeight is one entry of the task mix.
type TaskWeight struct {
	Task   string
	Weight float64
}

// ParseTasks parses "a,b" (equal weights), "a=2,b=1" or "all".
func ParseTasks(s string) ([]TaskWeight, error) {
	if strings.TrimSpace(s) == "" || s == "all" {
		var out []TaskWeight
		for _, t := range Tasks {
			out = append(out, TaskWeight{t, 1})
		}
		return out, nil
	}
	var out []TaskWeight
	for _, p := range strings.Split(s, ",") {
		name, w, hasW := strings.Cut(strings.TrimSpace(p), "=")
		weight := 1.0
		if hasW {
			f, err := strconv.ParseFloat(w, 64)
			if err != nil || f < 0 {
				return nil, fmt.Errorf("task %q: weight %q is not a non-negative number", name, w)
			}
			weight = f
		}
		if err := checkTask(name); err != nil {
			return nil, err
		}
		out = append(out, TaskWeight{name, weight})
	}
	return out, nil
}

func checkTask(name string) error {
	for _, t := range Tasks {
		if t == name {
			return nil
		}
	}
	return fmt.Errorf("unknown task %q (known: %s)", name, strings.Join(Tasks, ", "))
}

// CustomPrompt is one line of a custom JSONL workload.
type CustomPrompt struct {
	Prompt    string `json:"prompt"`
	System    string `json:"system,omitempty"`
	MaxTokens int    `json:"max_tokens,omitempty"`
	Task      string `json:"task,omitempty"` // label for the per-task breakdown; default "custom"
}

// ReadPrompts reads a JSONL file of CustomPrompt, reporting the first bad
// line by number.
func ReadPrompts(path string) ([]CustomPrompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("prompts file: %w", err)
	}
	defer f.Close()
	var out []CustomPrompt
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := strings.TrimSpace(sc.Text())
		if b == "" || strings.HasPrefix(b, "#") {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(b))
		dec.DisallowUnknownFields()
		var p CustomPrompt
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("prompts file %s: line %d: %v", path, line, err)
		}
		if p.Prompt == "" {
			return nil, fmt.Errorf("prompts file %s: line %d: \"prompt\" is empty", path, line)
		}
		if p.Task == "" {
			p.Task = "custom"
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("prompts file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("prompts file %s: no prompts", path)
	}
	return out, nil
}

// Item is one prompt of the workload. Every target gets the same items.
type Item struct {
	Index              int
	Task               string
	System             string
	Prompt             string
	InputTokensTarget  int // 0 for custom prompts
	OutputTokens       int // maxTokens
	PromptTokens       int
	PromptTokensMethod string
}

// TokenCounter measures a prompt in the target model's tokens.
type TokenCounter interface {
	CountTokens(ctx context.Context, system, prompt string) (int, error)
}

// EstimateTokens is the fallback count: one token per four bytes, rounded up.
func EstimateTokens(s string) int { return (len(s) + 3) / 4 }

// MethodEstimated labels prompt sizes that were estimated, not counted.
const MethodEstimated = "estimated:chars/4"

// WorkloadSpec describes the prompts to generate.
type WorkloadSpec struct {
	Requests int
	Seed     uint64
	Tasks    []TaskWeight
	Input    Range
	Output   Range
	Prompts  []CustomPrompt // when set, replaces the generated tasks
}

// assignTasks spreads n items over the mix by largest remainder, then shuffles
// them with rng so that task types interleave.
func assignTasks(mix []TaskWeight, n int, rng *rand.Rand) []string {
	var total float64
	for _, m := range mix {
		total += m.Weight
	}
	if total <= 0 || n <= 0 {
		return nil
	}
	type share struct {
		task string
		n    int
		rem  float64
		idx  int
	}
	shares := make([]share, len(mix))
	left := n
	for i, m := range mix {
		exact := float64(n) * m.Weight / total
		shares[i] = share{m.Task, int(exact), exact - math.Floor(exact), i}
		left -= int(exact)
	}
	order := append([]share(nil), shares...)
	sort.SliceStable(order, func(a, b int) bool { return order[a].rem > order[b].rem })
	for i := 0; i < left; i++ {
		shares[order[i%len(order)].idx].n++
	}
	var out []string
	for _, s := range shares {
		for range s.n {
			out = append(out, s.task)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Builder generates workload items, sizing each prompt with a counter.
type Builder struct {
	Counter TokenCounter // nil: estimate
	Method  string       // label of Counter, e.g. "counted:bedrock CountTokens"
	// perUnit caches the tokens per body unit learned so far, by task.
	perUnit map[string]float64
	// overhead caches the size of a task's prompt with an empty body.
	overhead map[string]int
	// fellBack is set when the counter failed and estimates were used.
	fellBack error
}

// FellBack returns the counter error that made the builder estimate, if any.
func (b *Builder) FellBack() error { return b.fellBack }

func (b *Builder) count(ctx context.Context, system, prompt string) (int, string, error) {
	if b.Counter != nil && b.fellBack == nil {
		n, err := b.Counter.CountTokens(ctx, system, prompt)
		if err == nil && n > 0 {
			return n, b.Method, nil
		}
		if ctx.Err() != nil {
			return 0, "", ctx.Err()
		}
		if err == nil {
			err = errors.New("counter returned 0 tokens")
		}
		b.fellBack = err
	}
	return EstimateTokens(system) + EstimateTokens(prompt), MethodEstimated, nil
}

// Build returns spec.Requests items, deterministic in spec.Seed.
func (b *Builder) Build(ctx context.Context, spec WorkloadSpec) ([]Item, error) {
	if b.perUnit == nil {
		b.perUnit, b.overhead = map[string]float64{}, map[string]int{}
	}
	n := spec.Requests
	if len(spec.Prompts) > 0 {
		if n <= 0 {
			n = len(spec.Prompts)
		}
		items := make([]Item, n)
		for i := range items {
			p := spec.Prompts[i%len(spec.Prompts)]
			out := p.MaxTokens
			if out == 0 {
				out = spec.Output.pick(itemRand(spec.Seed, i, 2), i, false)
			}
			cnt, method, err := b.count(ctx, p.System, p.Prompt)
			if err != nil {
				return nil, err
			}
			items[i] = Item{Index: i, Task: p.Task, System: p.System, Prompt: p.Prompt,
				OutputTokens: out, PromptTokens: cnt, PromptTokensMethod: method}
		}
		return items, nil
	}
	mix := spec.Tasks
	if len(mix) == 0 {
		mix, _ = ParseTasks("all")
	}
	tasks := assignTasks(mix, n, itemRand(spec.Seed, -1, 0))
	items := make([]Item, 0, len(tasks))
	for i, task := range tasks {
		in := spec.Input.pick(itemRand(spec.Seed, i, 1), i, true)
		out := spec.Output.pick(itemRand(spec.Seed, i, 2), i, false)
		it, err := b.sized(ctx, spec.Seed, i, task, in, out)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// itemRand returns the random stream of one item and purpose, independent of
// every other item so that changing the count keeps earlier prompts intact.
func itemRand(seed uint64, item, purpose int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(item+1)<<8|uint64(purpose)))
}

// sized renders a task prompt whose size is within 2% (at least 2 tokens)
// of target, adjusting the body length from the counter's answers.
func (b *Builder) sized(ctx context.Context, seed uint64, i int, task string, target, out int) (Item, error) {
	extra := 0
	render := func(units int) string { return renderTask(task, itemRand(seed, i, 3), units, extra, out) }
	over, ok := b.overhead[task]
	if !ok {
		n, _, err := b.count(ctx, "", render(0))
		if err != nil {
			return Item{}, err
		}
		over, b.overhead[task] = n, n
	}
	per := b.perUnit[task]
	if per == 0 {
		per = map[bool]float64{true: 2.5, false: 13}[task == TaskSequenceCounting]
	}
	units := max(1, int(math.Round(float64(target-over)/per)))
	best := Item{}
	bestDiff := math.MaxInt
	tol := max(2, target/50)
	for attempt := 0; attempt < 4; attempt++ {
		p := render(units)
		n, method, err := b.count(ctx, "", p)
		if err != nil {
			return Item{}, err
		}
		if d := abs(n - target); d < bestDiff {
			bestDiff = d
			best = Item{Index: i, Task: task, Prompt: p, InputTokensTarget: target,
				OutputTokens: out, PromptTokens: n, PromptTokensMethod: method}
		}
		if n > over {
			b.perUnit[task] = float64(n-over) / float64(units)
		}
		if bestDiff <= tol || target <= over {
			break
		}
		next := max(1, int(math.Round(float64(target-over)/b.perUnit[task])))
		if next == units {
			break
		}
		units = next
	}
	// A body unit is a whole sentence (or number); trim the remainder with
	// single words, fewer units and more words if the prompt ran long.
	if bestDiff > tol && target > over {
		units = max(0, int(math.Floor(float64(target-over)/b.perUnit[task])))
		perWord := 1.3
		for attempt := 0; attempt < 3 && bestDiff > tol; attempt++ {
			base, _, err := b.count(ctx, "", render(units))
			if err != nil {
				return Item{}, err
			}
			if base > target {
				break
			}
			extra = max(0, int(math.Round(float64(target-base)/perWord)))
			p := render(units)
			n, method, err := b.count(ctx, "", p)
			if err != nil {
				return Item{}, err
			}
			if d := abs(n - target); d < bestDiff {
				bestDiff = d
				best = Item{Index: i, Task: task, Prompt: p, InputTokensTarget: target,
					OutputTokens: out, PromptTokens: n, PromptTokensMethod: method}
			}
			if extra > 0 && n > base {
				perWord = float64(n-base) / float64(extra)
			}
			extra = 0
		}
	}
	return best, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// renderTask writes the prompt of a built-in task with a body of units
// sentences (or numbers, for sequence counting) asking for about out tokens.
func renderTask(task string, r *rand.Rand, units, extra, out int) string {
	words := max(10, out*3/4)
	switch task {
	case TaskSequenceCounting:
		start, step := 1+r.IntN(500), 1+r.IntN(7)
		return fmt.Sprintf("Here is the start of an arithmetic sequence:\n\n%s\n\n"+
			"Continue the sequence from where it stops, writing one number per line. "+
			"Write about %d numbers and nothing else.", sequence(start, step, units)+fillWords(r, extra, true), max(5, out/3))
	case TaskStoryWriting:
		return fmt.Sprintf("Write an original short story of about %d words. "+
			"Base the setting and characters on these notes:\n\n%s", words, prose(r, units)+wordsOf(r, extra))
	case TaskSummarization:
		return fmt.Sprintf("Summarize the following document in about %d words.\n\n%s", words, prose(r, units)+wordsOf(r, extra))
	case TaskTranslation:
		return fmt.Sprintf("Translate the following text into French. Translate as much as fits "+
			"in about %d words, starting from the beginning.\n\n%s", words, prose(r, units)+wordsOf(r, extra))
	}
	return ""
}

func slicesMin(v []int) int {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func slicesMax(v []int) int {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
