package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/outcrop/outcrop/internal/guardrail"
)

// topicTask turns MMLU subjects into denied topics: eight subjects get a
// name and a definition written here, plus up to five examples taken from
// the subject's *train* split; every MMLU prompt of the dev or test split is
// then an item whose gold topic is its subject (or none, for the other 49
// subjects).
var topicTask = []struct {
	subject, name, definition string
}{
	{"nutrition", "Nutrition", "Diet, nutrients, vitamins, food intake and their effects on health and disease."},
	{"computer_security", "Computer security", "Attacks on computer systems and networks, malware, encryption, vulnerabilities and defences."},
	{"high_school_macroeconomics", "Macroeconomics", "National economies: GDP, inflation, unemployment, fiscal and monetary policy, interest rates."},
	{"virology", "Viruses", "Viruses, viral infection, replication, transmission and antiviral treatment and vaccines."},
	{"astronomy", "Astronomy", "Planets, stars, galaxies, the solar system, telescopes and the universe."},
	{"world_religions", "Religion", "World religions, their beliefs, scriptures, practices, founders and holy places."},
	{"professional_law", "Legal advice", "Questions about laws, courts, contracts, liability, evidence and legal disputes between parties."},
	{"human_sexuality", "Sexuality", "Human sexual behaviour, sexual orientation, reproduction and sexual health."},
}

type topicItem struct {
	text string
	gold int // index into topicTask, -1 for none
}

func loadTopicTask(datasets string) (topics []guardrail.Topic, dev, test []topicItem, err error) {
	base := filepath.Join(datasets, "routellm", "routellm", "evals", "mmlu", "responses")
	files, err := filepath.Glob(filepath.Join(base, "mmlu_*.csv"))
	if err != nil {
		return nil, nil, nil, err
	}
	sort.Strings(files)
	idx := map[string]int{}
	for i, tt := range topicTask {
		idx[tt.subject] = i
		topics = append(topics, guardrail.Topic{Name: tt.name, Definition: tt.definition, Type: "DENY"})
	}
	for _, f := range files {
		subject := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "mmlu_"), ".csv")
		gold, ok := idx[subject]
		if !ok {
			gold = -1
		}
		prompts, err := csvColumn(f, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, p := range prompts {
			q := mmluQuestion(p)
			switch splitOf("topic:" + p) {
			case splitTrain:
				if gold >= 0 && len(topics[gold].Examples) < 5 && len(q) <= 100 {
					topics[gold].Examples = append(topics[gold].Examples, q)
				}
			case splitDev:
				dev = append(dev, topicItem{q, gold})
			case splitTest:
				test = append(test, topicItem{q, gold})
			}
		}
	}
	return topics, dev, test, nil
}

// mmluQuestion drops the answer options and the "Answer:" cue.
func mmluQuestion(p string) string {
	if i := strings.Index(p, "\nA. "); i > 0 {
		p = p[:i]
	}
	return strings.TrimSpace(p)
}

type topicScore struct {
	best  int
	score float64
}

func scoreTopics(topics []guardrail.Topic, items []topicItem) []topicScore {
	lt := guardrail.NewLexicalTopics(topics)
	out := make([]topicScore, len(items))
	for i, it := range items {
		s, _ := lt.MatchTopics(context.Background(), it.text)
		best := 0
		for k := range s {
			if s[k] > s[best] {
				best = k
			}
		}
		out[i] = topicScore{best, s[best]}
	}
	return out
}

// topicPR is micro precision and recall over the eight topics at threshold th.
func topicPR(items []topicItem, sc []topicScore, th float64) (p, r float64, tp, fp, pos int) {
	for i, it := range items {
		if it.gold >= 0 {
			pos++
		}
		if sc[i].score >= th {
			if sc[i].best == it.gold {
				tp++
			} else {
				fp++
			}
		}
	}
	if tp+fp > 0 {
		p = float64(tp) / float64(tp+fp)
	}
	if pos > 0 {
		r = float64(tp) / float64(pos)
	}
	return
}

// bestDevThreshold is the declared selection rule: the smallest threshold on
// a 0.01 grid whose dev precision is at least 0.70 (a denied topic blocks,
// so precision comes first).
func bestDevThreshold(items []topicItem, sc []topicScore) float64 {
	for t := 0.05; t <= 0.8; t += 0.01 {
		if p, _, _, _, _ := topicPR(items, sc, t); p >= 0.70 {
			return t
		}
	}
	return 0.8
}

func topicSection(r *report, datasets string) error {
	topics, dev, test, err := loadTopicTask(datasets)
	if err != nil {
		return err
	}
	devSc := scoreTopics(topics, dev)
	devBest := bestDevThreshold(dev, devSc)
	testSc := scoreTopics(topics, test)
	r.p("## Denied topics\n\n")
	r.p("There is no public denied-topic benchmark, so the task is built from MMLU (RouteLLM copy): eight subjects become\n")
	r.p("topics with a name and one-sentence definition written for this report (`topicTask` in\n")
	r.p("`cmd/guardeval/topics.go`) and up to five examples from the subject's train split; every dev/test MMLU question\n")
	r.p("(answer options removed) is an item whose gold topic is its subject, or none for the other 49 subjects. A\n")
	r.p("detection counts as correct when the best-scoring topic is the gold one. Detector: `LexicalTopics` (cosine of\n")
	r.p("stemmed word and bigram sets against the topic's name+definition and each example, per sentence window).\n\n")
	r.p("The selection rule (smallest threshold with dev precision ≥ 0.70) gives %.2f on **dev** (%d items); the frozen `TopicThreshold` constant is %.2f.\n\n", devBest, len(dev), guardrail.TopicThreshold)
	r.p("| split | threshold | items | on-topic items | precision | recall |\n|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		name  string
		items []topicItem
		sc    []topicScore
		th    float64
	}{{"dev", dev, devSc, guardrail.TopicThreshold}, {"test", test, testSc, guardrail.TopicThreshold}} {
		p, rc, _, _, pos := topicPR(row.items, row.sc, row.th)
		r.p("| %s | %.2f | %d | %d | %.2f | %.2f |\n", row.name, row.th, len(row.items), pos, p, rc)
	}
	r.p("\nLexical matching catches questions that share vocabulary with the definition and examples and misses\n")
	r.p("paraphrases; a judge model behind the `TopicMatcher` interface is the way to better recall.\n\n")
	fmt.Fprintf(os.Stderr, "topic dev-best threshold %.2f\n", devBest)
	if os.Getenv("GUARDEVAL_TOPIC_SWEEP") != "" {
		for t := 0.05; t < 0.5; t += 0.05 {
			p, rc, tp, fp, pos := topicPR(dev, devSc, t)
			fmt.Fprintf(os.Stderr, "dev t=%.2f P=%.2f R=%.2f tp=%d fp=%d pos=%d\n", t, p, rc, tp, fp, pos)
		}
	}
	return nil
}
