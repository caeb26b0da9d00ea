package promptrouter

import (
	"math"
	"math/rand/v2"
)

// Example is one labelled prompt: whether each model of the pair answered
// it correctly.
type Example struct {
	Prompt        string
	WeakCorrect   bool
	StrongCorrect bool
	// Source names the benchmark it came from (mmlu, gsm8k).
	Source string
}

// TrainOptions tune Train. Zero values take the defaults.
type TrainOptions struct {
	Epochs int     // default 16
	Rate   float64 // AdaGrad base rate, default 0.01
	L2     float64 // per-example L2 penalty, default 1e-5
	Seed   uint64  // shuffling seed, default 1
}

// Train fits both heads by logistic regression with AdaGrad. It is
// deterministic for given examples and options.
func Train(name string, exs []Example, o TrainOptions) *Model {
	if o.Epochs == 0 {
		o.Epochs = 16
	}
	if o.Rate == 0 {
		o.Rate = 0.01
	}
	if o.L2 == 0 {
		o.L2 = 1e-5
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	m := &Model{Name: name, Weak: head{W: make([]float32, dim)}, Strong: head{W: make([]float32, dim)}}
	// Dense feature scaling from the training data.
	var sum, sq [numDense]float64
	for _, e := range exs {
		d := dense(e.Prompt, len(tokenize(e.Prompt)))
		for j, v := range d {
			sum[j] += v
			sq[j] += v * v
		}
	}
	n := float64(max(len(exs), 1))
	for j := range numDense {
		m.mean[j] = sum[j] / n
		m.std[j] = math.Sqrt(max(sq[j]/n-m.mean[j]*m.mean[j], 0))
		if m.std[j] < 1e-9 {
			m.std[j] = 1
		}
	}
	xs := make([][]feature, len(exs))
	for i, e := range exs {
		xs[i] = m.input(e.Prompt, nil)
	}
	order := make([]int, len(exs))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	for _, h := range []struct {
		h     *head
		label func(Example) bool
	}{{&m.Weak, func(e Example) bool { return e.WeakCorrect }}, {&m.Strong, func(e Example) bool { return e.StrongCorrect }}} {
		g2 := make([]float64, dim)
		var gb2 float64
		for range o.Epochs {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, i := range order {
				x := xs[i]
				y := 0.0
				if h.label(exs[i]) {
					y = 1
				}
				g := sigmoid(h.h.score(x)) - y
				for _, f := range x {
					gi := g*float64(f.v) + o.L2*float64(h.h.W[f.i])
					g2[f.i] += gi * gi
					h.h.W[f.i] -= float32(o.Rate * gi / math.Sqrt(g2[f.i]+1e-8))
				}
				gb2 += g * g
				h.h.Bias -= float32(o.Rate * g / math.Sqrt(gb2+1e-8))
			}
		}
	}
	return m
}
