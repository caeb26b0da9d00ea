// Package promptrouter implements Bedrock-style prompt routers: a router
// names two models of a pair and a fallback, and for each request picks the
// cheaper model when its predicted answer quality is within the router's
// responseQualityDifference of the stronger one.
//
// Quality is predicted by Model, two logistic-regression heads (weak and
// strong model correct) over hashed word n-grams and structural features of
// the prompt, fitted offline on the RouteLLM correctness tables
// (cmd/routertrain) and embedded as a versioned, checksummed artefact
// (router-v1.bin) loaded at start. The evaluation on the held-out split
// (APGR, strong-call share, against random and length baselines) is in
// docs/ROUTING.md and guarded by TestPublishedFigures.
package promptrouter
