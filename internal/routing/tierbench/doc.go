// Package tierbench holds the benchmark of the latency-optimized tier: the
// seed's task mix sent, standard and optimized interleaved, through the
// router to a fleet of built-in llama.cpp engines of which one is loaded by
// another tenant's traffic. It is a test-only package (run it with
// `go test ./internal/routing/tierbench -tier`) so that the routing package's
// own tests stay free of cgo.
package tierbench
