// Package evaljob is Bedrock's model-evaluation job API on Outcrop:
// CreateEvaluationJob, GetEvaluationJob, ListEvaluationJobs,
// StopEvaluationJob and BatchDeleteEvaluationJob, with Bedrock's request and
// response shapes, for automated evaluations of a model Outcrop serves.
//
// Jobs are resources on internal/resource (kind "evaluation-job", 12-character
// lower-case IDs as Bedrock's ARNs have) and run as durable jobs on
// internal/jobs: a job survives a restart (the worker that picks it up again
// resumes from the model answers already stored in its output folder, so
// finished records are not invoked twice), and StopEvaluationJob cancels it.
// The evaluation itself is internal/eval's: each (taskType, metricName) pair
// of datasetMetricConfigs maps to an FMEval algorithm (see Algorithm), model
// calls go through the gateway pipeline as the principal that created the
// job (its policies, quotas and guardrails apply), and the results are
// logged to MLflow when the evaluations section names a tracking server.
//
// S3 here: an s3://bucket/key URI names the file
// <S3Root>/<account>/<bucket>/<key> on this host, where account is the
// caller's account, so one account never reads or writes another's
// objects. Datasets (datasetLocation.s3Uri) are read from there, and the
// results of a job are written under
// <S3Root>/<account>/<bucket>/<prefix>/<jobName>/<jobId>/, the folder
// outputDataConfig.s3Uri names plus the job's name and ID, as Bedrock does.
package evaljob

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/eval"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// JobKind is the internal/jobs kind of evaluation jobs.
const JobKind = "eval.job"

// kind is the resource kind of evaluation jobs.
const kind = "evaluation-job"

// Job statuses (Bedrock's EvaluationJobStatus).
const (
	StatusInProgress = "InProgress"
	StatusCompleted  = "Completed"
	StatusFailed     = "Failed"
	StatusStopping   = "Stopping"
	StatusStopped    = "Stopped"
	StatusDeleting   = "Deleting"
)

// Converser is the model gateway evaluation jobs call models through (the
// same pipeline as a client's Converse).
type Converser interface {
	Converse(ctx context.Context, c *gateway.Call) (*llm.Response, error)
}

// Service holds evaluation jobs. It is safe for concurrent use.
type Service struct {
	Store *resource.Store
	// Queue runs the jobs; set before CreateEvaluationJob is called.
	Queue jobs.Queue
	// Models answers the evaluated prompts (the gateway).
	Models Converser
	// Lookup resolves a model identifier (ID, alias, ARN) to the canonical
	// ID of a served model.
	Lookup func(model string) (string, bool)
	// RecoverContext gives a job's context the principal that created it
	// (nil: the job runs with no principal).
	RecoverContext func(ctx context.Context, principal string) (context.Context, error)
	// S3Root is the folder s3:// URIs are mapped into (see the package
	// comment).
	S3Root string
	// WordNet is the WordNet 3.0 dict folder METEOR needs (summarization);
	// empty means $OUTCROP_WORDNET, then ~/.cache/outcrop/wordnet/dict.
	WordNet string
	// MLflow, when set, receives every finished job's runs (the model's run
	// with a child per metric, as `outcrop eval` logs them).
	MLflow *eval.MLflowConfig
	// Concurrency is the number of records in flight per evaluation (0: 4).
	Concurrency int
	// Getenv reads MLflow credentials and OUTCROP_WORDNET (nil: os.Getenv).
	Getenv func(string) string
	Log    *slog.Logger
}

// Job is the stored and returned shape of an evaluation job
// (GetEvaluationJob's response).
type Job struct {
	JobName                 string           `json:"jobName"`
	Status                  string           `json:"status"`
	JobArn                  string           `json:"jobArn"`
	JobDescription          string           `json:"jobDescription,omitempty"`
	RoleArn                 string           `json:"roleArn"`
	CustomerEncryptionKeyID string           `json:"customerEncryptionKeyId,omitempty"`
	JobType                 string           `json:"jobType"`
	ApplicationType         string           `json:"applicationType"`
	EvaluationConfig        EvaluationConfig `json:"evaluationConfig"`
	InferenceConfig         InferenceConfig  `json:"inferenceConfig"`
	OutputDataConfig        OutputDataConfig `json:"outputDataConfig"`
	CreationTime            time.Time        `json:"creationTime"`
	LastModifiedTime        time.Time        `json:"lastModifiedTime,omitempty"`
	FailureMessages         []string         `json:"failureMessages,omitempty"`
}

// body is what the store keeps: the wire shape plus the job's private
// state.
type body struct {
	Job
	Principal string `json:"principal"`
	QueueID   string `json:"queueId"`
	// Model is the canonical ID of the evaluated model.
	Model string `json:"model"`
}

// EvaluationConfig is Bedrock's EvaluationConfig union; only automated is
// run.
type EvaluationConfig struct {
	Automated *AutomatedConfig `json:"automated,omitempty"`
	Human     json.RawMessage  `json:"human,omitempty"`
}

// AutomatedConfig is AutomatedEvaluationConfig.
type AutomatedConfig struct {
	DatasetMetricConfigs []DatasetMetricConfig `json:"datasetMetricConfigs"`
	EvaluatorModelConfig *EvaluatorModelConfig `json:"evaluatorModelConfig,omitempty"`
	CustomMetricConfig   json.RawMessage       `json:"customMetricConfig,omitempty"`
}

// DatasetMetricConfig is one task on one dataset with its metrics.
type DatasetMetricConfig struct {
	TaskType    string   `json:"taskType"`
	Dataset     Dataset  `json:"dataset"`
	MetricNames []string `json:"metricNames"`
}

// Dataset is EvaluationDataset.
type Dataset struct {
	Name            string           `json:"name"`
	DatasetLocation *DatasetLocation `json:"datasetLocation,omitempty"`
}

// DatasetLocation is EvaluationDatasetLocation.
type DatasetLocation struct {
	S3URI string `json:"s3Uri,omitempty"`
}

// EvaluatorModelConfig names the judge model of Builtin.Correctness and
// Builtin.Completeness.
type EvaluatorModelConfig struct {
	BedrockEvaluatorModels []struct {
		ModelIdentifier string `json:"modelIdentifier"`
	} `json:"bedrockEvaluatorModels"`
}

// InferenceConfig is EvaluationInferenceConfig.
type InferenceConfig struct {
	Models     []ModelConfig   `json:"models,omitempty"`
	RagConfigs json.RawMessage `json:"ragConfigs,omitempty"`
}

// ModelConfig is EvaluationModelConfig.
type ModelConfig struct {
	BedrockModel               *BedrockModel   `json:"bedrockModel,omitempty"`
	PrecomputedInferenceSource json.RawMessage `json:"precomputedInferenceSource,omitempty"`
}

// BedrockModel is EvaluationBedrockModel.
type BedrockModel struct {
	ModelIdentifier string `json:"modelIdentifier"`
	// InferenceParams is a JSON string such as
	// {"inferenceConfig":{"maxTokens":512,"temperature":0.7,"topP":0.9}}.
	InferenceParams   string          `json:"inferenceParams,omitempty"`
	PerformanceConfig json.RawMessage `json:"performanceConfig,omitempty"`
}

// OutputDataConfig is EvaluationOutputDataConfig.
type OutputDataConfig struct {
	S3URI string `json:"s3Uri"`
}

// Tag is a job tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// CreateInput is CreateEvaluationJob's request body.
type CreateInput struct {
	JobName                 string            `json:"jobName"`
	JobDescription          string            `json:"jobDescription"`
	ClientRequestToken      string            `json:"clientRequestToken"`
	RoleArn                 string            `json:"roleArn"`
	CustomerEncryptionKeyID string            `json:"customerEncryptionKeyId"`
	JobTags                 []Tag             `json:"jobTags"`
	ApplicationType         string            `json:"applicationType"`
	EvaluationConfig        *EvaluationConfig `json:"evaluationConfig"`
	InferenceConfig         *InferenceConfig  `json:"inferenceConfig"`
	OutputDataConfig        *OutputDataConfig `json:"outputDataConfig"`
}

// Summary is one entry of ListEvaluationJobs.
type Summary struct {
	JobArn                 string    `json:"jobArn"`
	JobName                string    `json:"jobName"`
	Status                 string    `json:"status"`
	CreationTime           time.Time `json:"creationTime"`
	JobType                string    `json:"jobType"`
	EvaluationTaskTypes    []string  `json:"evaluationTaskTypes"`
	ModelIdentifiers       []string  `json:"modelIdentifiers"`
	ApplicationType        string    `json:"applicationType"`
	InferenceConfigSummary struct {
		ModelConfigSummary struct {
			BedrockModelIdentifiers []string `json:"bedrockModelIdentifiers"`
		} `json:"modelConfigSummary"`
	} `json:"inferenceConfigSummary"`
	EvaluatorModelIdentifiers []string `json:"evaluatorModelIdentifiers,omitempty"`
}

// ListInput is ListEvaluationJobs' query.
type ListInput struct {
	CreationTimeAfter, CreationTimeBefore time.Time
	StatusEquals                          string
	ApplicationTypeEquals                 string
	NameContains                          string
	SortOrder                             string // Ascending or Descending (default)
	Page                                  resource.Page
}

// DeleteError and DeleteItem are BatchDeleteEvaluationJob's per-job results.
type (
	DeleteError struct {
		JobIdentifier string `json:"jobIdentifier"`
		Code          string `json:"code"`
		Message       string `json:"message,omitempty"`
	}
	DeleteItem struct {
		JobIdentifier string `json:"jobIdentifier"`
		JobStatus     string `json:"jobStatus"`
	}
)

// Validation patterns from Bedrock's API model.
var (
	jobNameRE = regexp.MustCompile(`^[a-z0-9](-*[a-z0-9]){0,62}$`)
	tokenRE   = regexp.MustCompile(`^[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?$`)
	roleRE    = regexp.MustCompile(`^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$`)
	s3RE      = regexp.MustCompile(`^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?$`)
	dsNameRE  = regexp.MustCompile(`^[0-9a-zA-Z-_.]{1,63}$`)
	jobIDRE   = regexp.MustCompile(`^[a-z0-9]{12}$`)
	tagRE     = regexp.MustCompile(`^[a-zA-Z0-9\s._:/=+@-]*$`)
)

// NewJobID returns a 12-character identifier of digits and lower-case
// letters, the form of Bedrock's evaluation-job ARNs.
func NewJobID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var out [12]byte
	var buf [32]byte
	n := 0
	for n < len(out) {
		rand.Read(buf[:])
		for _, b := range buf {
			if b >= 252 || n == len(out) { // 252 = 7·36: no bias
				continue
			}
			out[n] = alphabet[int(b)%36]
			n++
		}
	}
	return string(out[:])
}

// ARN returns the job's ARN.
func (s *Service) ARN(account, id string) string {
	return s.Store.Scope().ARN(account, "evaluation-job", id)
}

// JobID resolves a jobIdentifier (an evaluation-job ARN, or its ID) of the
// caller's account.
func (s *Service) JobID(ctx context.Context, ident string) (string, error) {
	acct := resource.Account(ctx, s.Store.Scope())
	if len(ident) > 1011 || ident == "" {
		return "", resource.Invalid("jobIdentifier", "Member must have length between 1 and 1011")
	}
	if !strings.HasPrefix(ident, "arn:") {
		if !jobIDRE.MatchString(ident) {
			return "", resource.Invalid("jobIdentifier", "Member must satisfy regular expression pattern: (arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:evaluation-job/[a-z0-9]{12})")
		}
		return ident, nil
	}
	a, ok := resource.ParseARN(ident)
	if !ok || a.Service != "bedrock" || a.Type != "evaluation-job" || !jobIDRE.MatchString(a.Path) {
		return "", resource.Invalid("jobIdentifier", "Member must satisfy regular expression pattern: (arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:evaluation-job/[a-z0-9]{12})")
	}
	if a.Account != acct {
		return "", resource.NotFound("Evaluation job %s was not found.", ident)
	}
	return a.Path, nil
}

func (s *Service) key(ctx context.Context, id string) resource.Key {
	return resource.Key{Account: resource.Account(ctx, s.Store.Scope()), Kind: kind, ID: id}
}

// plan is a validated job: what the runner needs.
type plan struct {
	model  string
	judge  string
	inf    llm.InferenceConfig
	evals  []planned
	outDir string
}

type planned struct {
	task, metric, algorithm string
	dataset                 Dataset
	path                    string
}

// Algorithm maps a Bedrock task type and built-in metric name to the FMEval
// algorithm that computes it (Bedrock's automated evaluations are FMEval's):
// Accuracy is summarization_accuracy, qa_accuracy, classification_accuracy
// or, for Generation and Custom, factual_knowledge; Robustness is the task's
// semantic-robustness variant (general_semantic_robustness for Generation);
// Toxicity is the task's toxicity algorithm (none for Classification).
// Builtin.Correctness and Builtin.Completeness are graded by the evaluator
// model (llm_judge). ok is false for a pair Bedrock does not offer.
func Algorithm(task, metric string) (string, bool) {
	type tm struct{ t, m string }
	m := map[tm]string{
		{"Summarization", "Builtin.Accuracy"}:       eval.AlgoSummarizationAccuracy,
		{"Summarization", "Builtin.Robustness"}:     eval.AlgoSummarizationAccuracySR,
		{"Summarization", "Builtin.Toxicity"}:       eval.AlgoSummarizationToxicity,
		{"QuestionAndAnswer", "Builtin.Accuracy"}:   eval.AlgoQAAccuracy,
		{"QuestionAndAnswer", "Builtin.Robustness"}: eval.AlgoQAAccuracySR,
		{"QuestionAndAnswer", "Builtin.Toxicity"}:   eval.AlgoQAToxicity,
		{"Classification", "Builtin.Accuracy"}:      eval.AlgoClassificationAccuracy,
		{"Classification", "Builtin.Robustness"}:    eval.AlgoClassificationAccuracySR,
		{"Generation", "Builtin.Accuracy"}:          eval.AlgoFactualKnowledge,
		{"Generation", "Builtin.Robustness"}:        eval.AlgoGeneralSemanticRobustness,
		{"Generation", "Builtin.Toxicity"}:          eval.AlgoToxicity,
		{"Custom", "Builtin.Accuracy"}:              eval.AlgoFactualKnowledge,
		{"Custom", "Builtin.Robustness"}:            eval.AlgoGeneralSemanticRobustness,
		{"Custom", "Builtin.Toxicity"}:              eval.AlgoToxicity,
	}
	if a, ok := m[tm{task, metric}]; ok {
		return a, true
	}
	if _, ok := judgeRubrics[metric]; ok && task != "Classification" {
		return eval.AlgoLLMJudge, true
	}
	return "", false
}

// judgeRubrics are the evaluator-model metrics and the rubric each grades.
var judgeRubrics = map[string]string{
	"Builtin.Correctness":  eval.DefaultRubric,
	"Builtin.Completeness": `You are grading an answer. Compare the ANSWER with the REFERENCE for the QUESTION and rate how completely it covers what the reference says, from 1 (covers nothing) to 5 (covers everything). Reply with "Score: <1-5>" and nothing else.`,
}

var taskTypes = []string{"Summarization", "Classification", "QuestionAndAnswer", "Generation", "Custom"}

// validate checks a CreateEvaluationJob request the way Bedrock does and
// resolves it into a plan; account scopes the S3 folders.
func (s *Service) validate(in *CreateInput, account string) (*plan, error) {
	switch {
	case in.JobName == "":
		return nil, resource.Invalid("jobName", "Member must not be null")
	case len(in.JobName) > 63 || !jobNameRE.MatchString(in.JobName):
		return nil, resource.Invalid("jobName", "Member must satisfy regular expression pattern: [a-z0-9](-*[a-z0-9]){0,62}")
	case in.JobDescription != "" && len([]rune(in.JobDescription)) > 200:
		return nil, resource.Invalid("jobDescription", "Member must have length less than or equal to 200")
	case in.ClientRequestToken != "" && !tokenRE.MatchString(in.ClientRequestToken):
		return nil, resource.Invalid("clientRequestToken", "Member must satisfy regular expression pattern: [a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?")
	case in.RoleArn == "":
		return nil, resource.Invalid("roleArn", "Member must not be null")
	case len(in.RoleArn) > 2048 || !roleRE.MatchString(in.RoleArn):
		return nil, resource.Invalid("roleArn", "Member must satisfy regular expression pattern: arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+")
	case len(in.JobTags) > 200:
		return nil, resource.Invalid("jobTags", "Member must have length less than or equal to 200")
	case in.ApplicationType != "" && in.ApplicationType != "ModelEvaluation" && in.ApplicationType != "RagEvaluation":
		return nil, resource.Invalid("applicationType", "Member must satisfy enum value set: [ModelEvaluation, RagEvaluation]")
	case in.ApplicationType == "RagEvaluation":
		return nil, resource.Invalidf("RagEvaluation jobs are not supported by Outcrop; use applicationType ModelEvaluation")
	case in.EvaluationConfig == nil:
		return nil, resource.Invalid("evaluationConfig", "Member must not be null")
	case in.InferenceConfig == nil:
		return nil, resource.Invalid("inferenceConfig", "Member must not be null")
	case in.OutputDataConfig == nil || in.OutputDataConfig.S3URI == "":
		return nil, resource.Invalid("outputDataConfig.s3Uri", "Member must not be null")
	}
	for _, t := range in.JobTags {
		if err := resource.Length("jobTags.member.key", t.Key, 1, 128); err != nil {
			return nil, err
		}
		if err := resource.Length("jobTags.member.value", t.Value, 0, 256); err != nil {
			return nil, err
		}
		if !tagRE.MatchString(t.Key) || !tagRE.MatchString(t.Value) {
			return nil, resource.Invalid("jobTags.member", `Member must satisfy regular expression pattern: [a-zA-Z0-9\s._:/=+@-]*`)
		}
	}
	ec := in.EvaluationConfig
	switch {
	case ec.Human != nil && ec.Automated != nil:
		return nil, resource.Invalidf("evaluationConfig is a union: give exactly one of automated or human")
	case ec.Human != nil:
		return nil, resource.Invalidf("human evaluation jobs are not supported by Outcrop; use evaluationConfig.automated")
	case ec.Automated == nil:
		return nil, resource.Invalid("evaluationConfig", "Member must have exactly one of automated or human set")
	}
	ac := ec.Automated
	if ac.CustomMetricConfig != nil {
		return nil, resource.Invalidf("customMetricConfig is not supported by Outcrop")
	}
	if n := len(ac.DatasetMetricConfigs); n < 1 || n > 5 {
		return nil, resource.Invalid("evaluationConfig.automated.datasetMetricConfigs", "Member must have length between 1 and 5")
	}
	ic := in.InferenceConfig
	if ic.RagConfigs != nil {
		return nil, resource.Invalidf("inferenceConfig.ragConfigs is not supported by Outcrop; use inferenceConfig.models")
	}
	if len(ic.Models) != 1 {
		return nil, resource.Invalid("inferenceConfig.models", "automated model evaluation jobs take exactly one model")
	}
	mc := ic.Models[0]
	if mc.PrecomputedInferenceSource != nil || mc.BedrockModel == nil {
		return nil, resource.Invalidf("inferenceConfig.models.1.member: only bedrockModel is supported by Outcrop")
	}
	p := &plan{}
	bm := mc.BedrockModel
	if err := resource.Length("inferenceConfig.models.1.member.bedrockModel.modelIdentifier", bm.ModelIdentifier, 1, 2048); err != nil {
		return nil, err
	}
	id, ok := s.Lookup(bm.ModelIdentifier)
	if !ok {
		return nil, resource.Invalidf("The model %s is not served here (inferenceConfig.models.1.member.bedrockModel.modelIdentifier).", bm.ModelIdentifier)
	}
	p.model = id
	inf, err := inferenceParams(bm.InferenceParams)
	if err != nil {
		return nil, err
	}
	p.inf = inf
	if !s3RE.MatchString(in.OutputDataConfig.S3URI) || len(in.OutputDataConfig.S3URI) > 1024 {
		return nil, resource.Invalid("outputDataConfig.s3Uri", "Member must satisfy regular expression pattern: s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?")
	}
	out, err := s.s3Path(account, in.OutputDataConfig.S3URI)
	if err != nil {
		return nil, resource.Invalid("outputDataConfig.s3Uri", err.Error())
	}
	p.outDir = out
	needJudge := false
	names := map[string]bool{}
	for i, dc := range ac.DatasetMetricConfigs {
		field := fmt.Sprintf("evaluationConfig.automated.datasetMetricConfigs.%d.member", i+1)
		if !slices.Contains(taskTypes, dc.TaskType) {
			return nil, resource.Invalid(field+".taskType", "Member must satisfy enum value set: [Summarization, Classification, QuestionAndAnswer, Generation, Custom]")
		}
		if !dsNameRE.MatchString(dc.Dataset.Name) {
			return nil, resource.Invalid(field+".dataset.name", "Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+")
		}
		if names[dc.Dataset.Name] {
			return nil, resource.Invalidf("Dataset name %s is used by more than one datasetMetricConfig.", dc.Dataset.Name)
		}
		names[dc.Dataset.Name] = true
		if dc.Dataset.DatasetLocation == nil || dc.Dataset.DatasetLocation.S3URI == "" {
			if strings.HasPrefix(dc.Dataset.Name, "Builtin.") {
				return nil, resource.Invalidf("The built-in dataset %s is not available on Outcrop; give dataset.datasetLocation.s3Uri (JSON Lines with prompt, referenceResponse, category).", dc.Dataset.Name)
			}
			return nil, resource.Invalid(field+".dataset.datasetLocation", "Member must not be null for a custom dataset")
		}
		u := dc.Dataset.DatasetLocation.S3URI
		if !s3RE.MatchString(u) || len(u) > 1024 {
			return nil, resource.Invalid(field+".dataset.datasetLocation.s3Uri", "Member must satisfy regular expression pattern: s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?")
		}
		path, err := s.s3Path(account, u)
		if err != nil {
			return nil, resource.Invalid(field+".dataset.datasetLocation.s3Uri", err.Error())
		}
		if err := checkFile(path); err != nil {
			return nil, resource.Invalidf("The dataset %s cannot be read: %s does not name a file in the object store.", dc.Dataset.Name, u)
		}
		if n := len(dc.MetricNames); n < 1 || n > 25 {
			return nil, resource.Invalid(field+".metricNames", "Member must have length between 1 and 25")
		}
		seen := map[string]bool{}
		for _, m := range dc.MetricNames {
			algo, ok := Algorithm(dc.TaskType, m)
			if !ok {
				return nil, resource.Invalidf("The metric %s is not supported for task type %s.", m, dc.TaskType)
			}
			if seen[m] {
				return nil, resource.Invalidf("The metric %s is given twice for dataset %s.", m, dc.Dataset.Name)
			}
			seen[m] = true
			needJudge = needJudge || algo == eval.AlgoLLMJudge
			p.evals = append(p.evals, planned{task: dc.TaskType, metric: m, algorithm: algo, dataset: dc.Dataset, path: path})
		}
	}
	if em := ac.EvaluatorModelConfig; em != nil {
		if len(em.BedrockEvaluatorModels) != 1 {
			return nil, resource.Invalid("evaluationConfig.automated.evaluatorModelConfig.bedrockEvaluatorModels", "Member must have length between 1 and 1")
		}
		j, ok := s.Lookup(em.BedrockEvaluatorModels[0].ModelIdentifier)
		if !ok {
			return nil, resource.Invalidf("The evaluator model %s is not served here.", em.BedrockEvaluatorModels[0].ModelIdentifier)
		}
		p.judge = j
	}
	if needJudge && p.judge == "" {
		return nil, resource.Invalidf("Builtin.Correctness and Builtin.Completeness need evaluationConfig.automated.evaluatorModelConfig.")
	}
	return p, nil
}

// inferenceParams reads bedrockModel.inferenceParams:
// {"inferenceConfig":{"maxTokens":…,"temperature":…,"topP":…,"stopSequences":[…]}}.
func inferenceParams(s string) (llm.InferenceConfig, error) {
	var ic llm.InferenceConfig
	if s == "" {
		return ic, nil
	}
	const field = "inferenceConfig.models.1.member.bedrockModel.inferenceParams"
	if len(s) > 1023 {
		return ic, resource.Invalid(field, "Member must have length between 1 and 1023")
	}
	var v struct {
		InferenceConfig *struct {
			MaxTokens     *int     `json:"maxTokens"`
			Temperature   *float64 `json:"temperature"`
			TopP          *float64 `json:"topP"`
			StopSequences []string `json:"stopSequences"`
		} `json:"inferenceConfig"`
		AdditionalModelRequestFields json.RawMessage `json:"additionalModelRequestFields"`
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return ic, resource.Invalid(field, "Member must be a JSON object such as {\"inferenceConfig\":{\"maxTokens\":512}}")
	}
	if c := v.InferenceConfig; c != nil {
		if c.MaxTokens != nil && *c.MaxTokens < 1 {
			return ic, resource.Invalid(field, "inferenceConfig.maxTokens must be at least 1")
		}
		if c.Temperature != nil && (*c.Temperature < 0 || *c.Temperature > 1) {
			return ic, resource.Invalid(field, "inferenceConfig.temperature must be between 0 and 1")
		}
		if c.TopP != nil && (*c.TopP < 0 || *c.TopP > 1) {
			return ic, resource.Invalid(field, "inferenceConfig.topP must be between 0 and 1")
		}
		ic.MaxTokens, ic.Temperature, ic.TopP, ic.StopSequences = c.MaxTokens, c.Temperature, c.TopP, c.StopSequences
	}
	return ic, nil
}

// s3Path maps s3://bucket/key to <S3Root>/<account>/<bucket>/<key>,
// refusing "." and ".." segments.
func (s *Service) s3Path(account, uri string) (string, error) {
	rest := strings.TrimPrefix(uri, "s3://")
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	for _, p := range parts {
		if p == "." || p == ".." || p == "" {
			return "", errors.New("Member must not contain empty, '.' or '..' path segments")
		}
	}
	if s.S3Root == "" {
		return "", errors.New("no object store is configured")
	}
	return filepath.Join(append([]string{s.S3Root, account}, parts...)...), nil
}

// checkFile reports whether path is a regular file.
func checkFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", path)
	}
	return nil
}

// CreateEvaluationJob validates in, stores the job and queues it; it
// returns the job's ARN. A repeated clientRequestToken returns the first
// job's ARN.
func (s *Service) CreateEvaluationJob(ctx context.Context, in *CreateInput) (string, error) {
	acct := resource.Account(ctx, s.Store.Scope())
	p, err := s.validate(in, acct)
	if err != nil {
		return "", err
	}
	if s.Queue == nil {
		return "", llm.Errorf(llm.KindUnavailable, "the job queue is not running")
	}
	id := NewJobID()
	now := s.Store.Now()
	b := body{
		Job: Job{
			JobName: in.JobName, Status: StatusInProgress, JobArn: s.ARN(acct, id), JobDescription: in.JobDescription,
			RoleArn: in.RoleArn, CustomerEncryptionKeyID: in.CustomerEncryptionKeyID, JobType: "Automated",
			ApplicationType: "ModelEvaluation", EvaluationConfig: *in.EvaluationConfig, InferenceConfig: *in.InferenceConfig,
			OutputDataConfig: *in.OutputDataConfig, CreationTime: now, LastModifiedTime: now,
		},
		Model: p.model,
	}
	if pr, ok := auth.PrincipalFrom(ctx); ok {
		b.Principal = pr.Name
	}
	k := resource.Key{Account: acct, Kind: kind, ID: id}
	it, err := s.Store.Create(ctx, k, in.JobName, in.ClientRequestToken, b)
	if err != nil {
		var le *llm.Error
		if errors.As(err, &le) && le.Kind == llm.KindConflict && in.ClientRequestToken == "" {
			return "", resource.Conflict("An evaluation job named %s already exists.", in.JobName)
		}
		return "", err
	}
	stored, err := resource.Decode[body](it)
	if err != nil {
		return "", err
	}
	if it.ID != id { // an idempotent retry: the first request's job
		return stored.JobArn, nil
	}
	payload, _ := json.Marshal(jobPayload{Account: acct, ID: id})
	qj, _, err := s.Queue.Enqueue(ctx, jobs.Spec{Kind: JobKind, Key: acct + "/" + id, Payload: payload, MaxAttempts: 3})
	if err != nil {
		s.fail(context.WithoutCancel(ctx), k, "the job could not be queued: "+err.Error())
		return "", fmt.Errorf("queue evaluation job %s: %w", id, err)
	}
	if _, err := s.update(ctx, k, func(b *body) { b.QueueID = qj.ID }); err != nil {
		return "", err
	}
	return stored.JobArn, nil
}

type jobPayload struct {
	Account string `json:"account"`
	ID      string `json:"id"`
}

// update changes a stored job under the store's row lock.
func (s *Service) update(ctx context.Context, k resource.Key, fn func(b *body)) (*body, error) {
	var out *body
	_, err := s.Store.Update(ctx, k, func(it *resource.Item) error {
		b, err := resource.Decode[body](it)
		if err != nil {
			return err
		}
		fn(b)
		b.LastModifiedTime = s.Store.Now()
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		it.Body = raw
		out = b
		return nil
	})
	return out, err
}

func (s *Service) fail(ctx context.Context, k resource.Key, msg string) {
	if _, err := s.update(ctx, k, func(b *body) {
		b.Status = StatusFailed
		b.FailureMessages = append(b.FailureMessages, msg)
	}); err != nil {
		s.log().Error("evaluation job: cannot record failure", "job", k.ID, "error", err)
	}
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Service) get(ctx context.Context, id string) (*body, error) {
	it, err := s.Store.Get(ctx, s.key(ctx, id), resource.Draft)
	if err != nil {
		var le *llm.Error
		if errors.As(err, &le) && le.Kind == llm.KindNotFound {
			return nil, resource.NotFound("Evaluation job %s was not found.", s.ARN(resource.Account(ctx, s.Store.Scope()), id))
		}
		return nil, err
	}
	b, err := resource.Decode[body](it)
	if err != nil {
		return nil, err
	}
	// A job stopped before a worker took it never runs its handler: the
	// queue's final state settles it.
	if b.Status == StatusStopping && b.QueueID != "" && s.Queue != nil {
		if qj, err := s.Queue.Get(ctx, b.QueueID); err == nil && qj.State.Final() {
			if nb, err := s.update(ctx, s.key(ctx, id), func(x *body) {
				if x.Status == StatusStopping {
					x.Status = StatusStopped
				}
			}); err == nil {
				b = nb
			}
		}
	}
	return b, nil
}

// GetEvaluationJob returns the job named by ident (an ARN or ID).
func (s *Service) GetEvaluationJob(ctx context.Context, ident string) (*Job, error) {
	id, err := s.JobID(ctx, ident)
	if err != nil {
		return nil, err
	}
	b, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return &b.Job, nil
}

// StopEvaluationJob stops a job in progress: its status becomes Stopping,
// the running evaluation is cancelled, and then Stopped. Stopping a job
// that is not in progress is ConflictException.
func (s *Service) StopEvaluationJob(ctx context.Context, ident string) error {
	id, err := s.JobID(ctx, ident)
	if err != nil {
		return err
	}
	if _, err := s.get(ctx, id); err != nil {
		return err
	}
	var state string
	b, err := s.update(ctx, s.key(ctx, id), func(b *body) {
		state = b.Status
		if b.Status == StatusInProgress {
			b.Status = StatusStopping
		}
	})
	if err != nil {
		return err
	}
	if state != StatusInProgress {
		return resource.Conflict("The evaluation job %s is %s; only a job in progress can be stopped.", b.JobArn, state)
	}
	if b.QueueID != "" && s.Queue != nil {
		if err := s.Queue.Cancel(ctx, b.QueueID); err != nil && !errors.Is(err, jobs.ErrFinished) {
			return fmt.Errorf("cancel evaluation job %s: %w", id, err)
		}
	}
	return nil
}

// BatchDeleteEvaluationJob deletes finished jobs (Completed, Failed,
// Stopped); a job in progress, or one that does not exist, is reported in
// the errors list. The output folders are left in place, as Bedrock leaves
// S3 objects.
func (s *Service) BatchDeleteEvaluationJob(ctx context.Context, idents []string) ([]DeleteError, []DeleteItem, error) {
	if n := len(idents); n < 1 || n > 25 {
		return nil, nil, resource.Invalid("jobIdentifiers", "Member must have length between 1 and 25")
	}
	errs, items := []DeleteError{}, []DeleteItem{}
	for _, ident := range idents {
		id, err := s.JobID(ctx, ident)
		if err != nil {
			errs = append(errs, deleteError(ident, err))
			continue
		}
		b, err := s.get(ctx, id)
		if err != nil {
			errs = append(errs, deleteError(ident, err))
			continue
		}
		switch b.Status {
		case StatusCompleted, StatusFailed, StatusStopped:
		default:
			errs = append(errs, DeleteError{JobIdentifier: ident, Code: "ConflictException",
				Message: fmt.Sprintf("The evaluation job is %s; only Completed, Failed or Stopped jobs can be deleted.", b.Status)})
			continue
		}
		if err := s.Store.Delete(ctx, s.key(ctx, id)); err != nil {
			errs = append(errs, deleteError(ident, err))
			continue
		}
		items = append(items, DeleteItem{JobIdentifier: ident, JobStatus: StatusDeleting})
	}
	return errs, items, nil
}

func deleteError(ident string, err error) DeleteError {
	e := llm.AsError(err)
	return DeleteError{JobIdentifier: ident, Code: e.Name(), Message: e.Message}
}

// ListEvaluationJobs returns one page of the caller's jobs, filtered and
// sorted by creation time (newest first unless SortOrder is Ascending).
func (s *Service) ListEvaluationJobs(ctx context.Context, in ListInput) ([]Summary, string, error) {
	if err := in.Page.Validate(); err != nil {
		return nil, "", err
	}
	acct := resource.Account(ctx, s.Store.Scope())
	var all []*body
	tok := ""
	for {
		items, next, err := s.Store.List(ctx, resource.ListQuery{Account: acct, Kind: kind, Page: resource.Page{MaxResults: 1000, NextToken: tok}})
		if err != nil {
			return nil, "", err
		}
		for _, it := range items {
			b, err := resource.Decode[body](it)
			if err != nil {
				return nil, "", err
			}
			all = append(all, b)
		}
		if next == "" {
			break
		}
		tok = next
	}
	asc := in.SortOrder == "Ascending"
	// less orders by creation time, then ARN, ascending or descending; it
	// is a strict order (false for equal jobs), which the page cursor
	// relies on.
	less := func(a, b *body) bool {
		if !a.CreationTime.Equal(b.CreationTime) {
			if asc {
				return a.CreationTime.Before(b.CreationTime)
			}
			return a.CreationTime.After(b.CreationTime)
		}
		if asc {
			return a.JobArn < b.JobArn
		}
		return a.JobArn > b.JobArn
	}
	slices.SortFunc(all, func(a, b *body) int {
		switch {
		case less(a, b):
			return -1
		case less(b, a):
			return 1
		}
		return 0
	})
	var after *cursor
	if in.Page.NextToken != "" {
		c, err := decodeCursor(in.Page.NextToken)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	size := in.Page.MaxResults
	if size <= 0 {
		size = resource.DefaultMaxResults
	}
	var out []Summary
	next := ""
	for _, b := range all {
		if after != nil {
			pos := &body{Job: Job{CreationTime: time.UnixMilli(after.T).UTC(), JobArn: after.A}}
			if !less(pos, b) {
				continue
			}
		}
		if !matches(b, in) {
			continue
		}
		if len(out) == size {
			last := out[len(out)-1]
			next = encodeCursor(cursor{T: last.CreationTime.UnixMilli(), A: last.JobArn})
			break
		}
		out = append(out, summarize(b))
	}
	return out, next, nil
}

func matches(b *body, in ListInput) bool {
	switch {
	case in.StatusEquals != "" && b.Status != in.StatusEquals:
		return false
	case in.ApplicationTypeEquals != "" && b.ApplicationType != in.ApplicationTypeEquals:
		return false
	case in.NameContains != "" && !strings.Contains(b.JobName, in.NameContains):
		return false
	case !in.CreationTimeAfter.IsZero() && !b.CreationTime.After(in.CreationTimeAfter):
		return false
	case !in.CreationTimeBefore.IsZero() && !b.CreationTime.Before(in.CreationTimeBefore):
		return false
	}
	return true
}

func summarize(b *body) Summary {
	sm := Summary{JobArn: b.JobArn, JobName: b.JobName, Status: b.Status, CreationTime: b.CreationTime,
		JobType: b.JobType, ApplicationType: b.ApplicationType, EvaluationTaskTypes: []string{}}
	if a := b.EvaluationConfig.Automated; a != nil {
		for _, dc := range a.DatasetMetricConfigs {
			if !slices.Contains(sm.EvaluationTaskTypes, dc.TaskType) {
				sm.EvaluationTaskTypes = append(sm.EvaluationTaskTypes, dc.TaskType)
			}
		}
		if em := a.EvaluatorModelConfig; em != nil {
			for _, m := range em.BedrockEvaluatorModels {
				sm.EvaluatorModelIdentifiers = append(sm.EvaluatorModelIdentifiers, m.ModelIdentifier)
			}
		}
	}
	for _, m := range b.InferenceConfig.Models {
		if m.BedrockModel != nil {
			sm.ModelIdentifiers = append(sm.ModelIdentifiers, m.BedrockModel.ModelIdentifier)
		}
	}
	sm.InferenceConfigSummary.ModelConfigSummary.BedrockModelIdentifiers = sm.ModelIdentifiers
	return sm
}

// cursor is the position after which a list page starts.
type cursor struct {
	T int64  `json:"t"`
	A string `json:"a"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(tok string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || json.Unmarshal(b, &c) != nil || c.A == "" {
		return c, resource.Invalid("nextToken", "Member must be a token returned by a previous call")
	}
	return c, nil
}
