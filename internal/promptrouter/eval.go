package promptrouter

import (
	"math/rand/v2"
	"sort"
)

// Curve is the quality of a routing policy as the share of calls sent to
// the strong model grows, in RouteLLM's terms.
type Curve struct {
	// WeakQuality and StrongQuality are the accuracies of sending every
	// call to one model.
	WeakQuality, StrongQuality float64
	// PGR[k] is the performance gap recovered when the k highest-scored
	// prompts go to the strong model: (q − weak) / (strong − weak).
	PGR []float64
}

// Evaluate routes exs by score (higher scores go to the strong model
// first) and returns the curve over every strong-call share k/n.
func Evaluate(exs []Example, score []float64) Curve {
	n := len(exs)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score[idx[a]] > score[idx[b]] })
	var weak, strong int
	for _, e := range exs {
		if e.WeakCorrect {
			weak++
		}
		if e.StrongCorrect {
			strong++
		}
	}
	c := Curve{WeakQuality: float64(weak) / float64(n), StrongQuality: float64(strong) / float64(n), PGR: make([]float64, n+1)}
	gap := float64(strong - weak)
	correct := weak
	c.PGR[0] = 0
	for k, i := range idx {
		e := exs[i]
		if e.StrongCorrect {
			correct++
		}
		if e.WeakCorrect {
			correct--
		}
		c.PGR[k+1] = float64(correct-weak) / gap
	}
	return c
}

// APGR is the area under PGR against the strong-call share (trapezoids).
// Random routing scores 0.5 in expectation.
func (c Curve) APGR() float64 {
	n := len(c.PGR) - 1
	var a float64
	for k := 1; k <= n; k++ {
		a += (c.PGR[k-1] + c.PGR[k]) / 2
	}
	return a / float64(n)
}

// CPT returns the smallest strong-call share at which PGR reaches p.
func (c Curve) CPT(p float64) float64 {
	n := len(c.PGR) - 1
	for k, v := range c.PGR {
		if v >= p {
			return float64(k) / float64(n)
		}
	}
	return 1
}

// RandomAPGR is the mean APGR of draws random orderings.
func RandomAPGR(exs []Example, draws int, seed uint64) float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	score := make([]float64, len(exs))
	var sum float64
	for range draws {
		for i := range score {
			score[i] = rng.Float64()
		}
		sum += Evaluate(exs, score).APGR()
	}
	return sum / float64(draws)
}

// LengthScores is the length baseline: longer prompts go to the strong
// model first.
func LengthScores(exs []Example) []float64 {
	s := make([]float64, len(exs))
	for i, e := range exs {
		s[i] = float64(len(e.Prompt))
	}
	return s
}

// GapScores scores exs with the model's predicted relative quality gap.
func GapScores(m *Model, exs []Example) []float64 {
	s := make([]float64, len(exs))
	for i, e := range exs {
		s[i] = m.Gap(e.Prompt)
	}
	return s
}

// StrongShare is the share of exs the model sends to the strong model at
// a responseQualityDifference of d percent.
func StrongShare(m *Model, exs []Example, d float64) float64 {
	n := 0
	for _, e := range exs {
		if m.Gap(e.Prompt) > d/100 {
			n++
		}
	}
	return float64(n) / float64(len(exs))
}

// Figures are the published evaluation of a router on one set of prompts.
type Figures struct {
	Weak, Strong   float64 // accuracy of each model alone
	Router, Length float64 // APGR
	Random         float64 // mean APGR of 20 random orderings
	RouterCPT50    float64 // strong-call share needed for PGR 0.5
	LengthCPT50    float64
	Share          map[int]float64 // strong-call share by responseQualityDifference (percent)
}

// Report computes the figures of m on exs.
func Report(m *Model, exs []Example) Figures {
	rc := Evaluate(exs, GapScores(m, exs))
	lc := Evaluate(exs, LengthScores(exs))
	f := Figures{Weak: rc.WeakQuality, Strong: rc.StrongQuality, Router: rc.APGR(), Length: lc.APGR(), Random: RandomAPGR(exs, 20, 1),
		RouterCPT50: rc.CPT(0.5), LengthCPT50: lc.CPT(0.5), Share: map[int]float64{}}
	for _, d := range []int{0, 5, 10, 20} {
		f.Share[d] = StrongShare(m, exs, float64(d))
	}
	return f
}
