// Package bench is the latency benchmark behind `outcrop bench`: it builds
// the seed's workload (sequence counting, story writing, summarization,
// translation) deterministically from a seed, drives Bedrock-compatible
// (Converse / ConverseStream through aws-sdk-go-v2) or OpenAI-compatible
// endpoints with a chosen load shape, interleaving the targets it compares,
// and reports TTFT, OTPS, E2E and inter-token latency per request and as
// percentiles, in the seed's table layout, as files, charts and an HTML
// report.
//
// The pieces are usable on their own: Builder makes prompts, Run sends them
// and yields Records, Summarize turns Records into a Summary, and
// WriteReport writes every output file from records alone, so that a
// summary can always be recomputed from requests.jsonl.
package bench
