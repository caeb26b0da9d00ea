// Package testenv gives tests the external resources that CI provides
// (a real model file, an Ollama server, Python and Node clients, Redis,
// PostgreSQL, MLflow) through environment variables.
//
// A test that needs a resource calls the matching helper. When the variable is
// unset the test is skipped, unless OUTCROP_TEST_REQUIRE=1 (set by CI), in
// which case it fails: CI must never silently skip.
package testenv

import (
	"os"
	"testing"
)

// Lookup returns the value of the environment variable name, skipping or
// failing t when it is unset.
func Lookup(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("OUTCROP_TEST_REQUIRE") == "1" {
		t.Fatalf("%s is not set but OUTCROP_TEST_REQUIRE=1: CI must provide it (see .ci/run)", name)
	}
	t.Skipf("%s not set; skipping (CI sets it)", name)
	return ""
}

// GGUF returns the path of the SmolLM2-135M-Instruct GGUF file.
func GGUF(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_GGUF") }

// OllamaURL returns the base URL (no /v1) of an Ollama server serving
// the models OllamaModel and OllamaToolsModel.
func OllamaURL(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_OLLAMA_URL") }

// OllamaModel is SmolLM2-135M-Instruct under the GGUF's own chat template,
// which has no tools: Ollama answers a request that offers tools with 400
// "does not support tools".
const OllamaModel = "smollm2:135m"

// OllamaToolsModel is the same GGUF under a ChatML template with a tools
// section (scripts/test-services.sh), so Ollama accepts tools, renders tool
// calls and results, and parses <tool_call> JSON out of the answer.
const OllamaToolsModel = "smollm2:135m-tools"

// Python returns a python interpreter with test/interop/python/requirements.txt installed.
func Python(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_PYTHON") }

// NodeModules returns a directory containing node_modules with test/interop/js's packages.
func NodeModules(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_NODE_MODULES") }

// RedisURL returns a redis:// URL of a scratch Redis server.
func RedisURL(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_REDIS_URL") }

// PostgresDSN returns a DSN of a scratch PostgreSQL database.
func PostgresDSN(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_POSTGRES_DSN") }

// MLflowURL returns the base URL of an MLflow tracking server.
func MLflowURL(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_MLFLOW_URL") }

// Datasets returns the directory of the shared public datasets
// (openai-moderation, jailbreakbench, bipia, presidio-research, …; see its
// SOURCES.md), which are never copied into the repository.
func Datasets(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_DATASETS") }

// WordNet returns a WordNet 3.0 dict directory (scripts/wordnet.sh, `make
// wordnet`) with NLTK's lexnames file.
func WordNet(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_WORDNET") }

// Chromium returns the path of the apt Chromium (.ci/apt.txt) that the
// console's browser tests drive; never a downloaded browser.
func Chromium(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_CHROMIUM") }

// Punkt returns the directory holding NLTK's English Punkt model in the
// punkt_tab layout (english/abbrev_types.txt, …; scripts/punkt.sh).
func Punkt(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_PUNKT") }
