// Package semantictest tests and measures the semantic side of the
// response cache (internal/cache) with the built-in embedding model,
// all-MiniLM-L6-v2 run by llama.cpp: the stage's semantic hits, namespaces
// and verification step on the embedded and the Redis index, and the
// precision/recall curve on held-out Quora Question Pairs that
// docs/CACHING.md publishes. It holds only tests; it is a package of its own
// so that internal/cache itself does not link the engine and keeps running
// under the race detector.
package semantictest
