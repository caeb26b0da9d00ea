package eval

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRadarChart(t *testing.T) {
	pngData, svgData, err := RadarChart("Higher is better",
		[]string{"summarization_accuracy.meteor", "summarization_accuracy.rouge", "factual_knowledge.factual_knowledge", "factual_knowledge.factual_knowledge_quasi_exact"},
		[]Series{{"smollm2-135m", []float64{0.2, 0.05, 0.3, 0.4}}, {"ollama-smollm2", []float64{0.25, math.NaN(), 0.35, 0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil || img.Bounds().Dx() < 500 {
		t.Fatalf("png: %v %v", err, img)
	}
	s := string(svgData)
	if !strings.HasPrefix(strings.TrimSpace(s), "<?xml") || !strings.Contains(s, "<svg") || !strings.Contains(s, "smollm2-135m") {
		t.Fatalf("svg: %.300s", s)
	}
	if d := os.Getenv("OUTCROP_EVAL_CHART_DIR"); d != "" {
		os.WriteFile(filepath.Join(d, "radar.png"), pngData, 0o644)
	}
	if _, _, err := RadarChart("x", []string{"a", "b"}, nil); err == nil {
		t.Fatal("two axes accepted")
	}
}
