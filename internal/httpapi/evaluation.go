package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/outcrop/outcrop/internal/eval/evaljob"
	"github.com/outcrop/outcrop/internal/resource"
)

// EvaluationJobs is the route group of Bedrock's model-evaluation jobs
// (the bedrock control plane: CreateEvaluationJob, GetEvaluationJob,
// ListEvaluationJobs, StopEvaluationJob, BatchDeleteEvaluationJob);
// package evaljob does the work (docs/EVALUATIONS.md). Errors have the
// bedrock service's statuses (ConflictException 400).
type EvaluationJobs struct {
	Service *evaljob.Service
}

var _ RouteGroup = (*EvaluationJobs)(nil)

// Routes implements RouteGroup.
func (e *EvaluationJobs) Routes(mux *http.ServeMux, a *Adapter) {
	svc := e.Service
	// authorize checks action on the job named by ident ("*" for none);
	// a malformed identifier is reported before the policy is asked.
	authorize := func(r *http.Request, action, ident string) error {
		res := "*"
		if ident != "" {
			id, err := svc.JobID(r.Context(), ident)
			if err != nil {
				return err
			}
			res = svc.ARN(resource.Account(r.Context(), svc.Store.Scope()), id)
		}
		return a.Authorize(r, action, res)
	}
	mux.Handle("POST /evaluation-jobs", a.Bedrock(func(w http.ResponseWriter, r *http.Request) error {
		if err := authorize(r, "bedrock:CreateEvaluationJob", ""); err != nil {
			return err
		}
		b, err := a.ReadBody(r)
		if err != nil {
			return err
		}
		var in evaljob.CreateInput
		if err := DecodeJSON(b, &in); err != nil {
			return err
		}
		arn, err := svc.CreateEvaluationJob(r.Context(), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]string{"jobArn": arn})
	}))
	mux.Handle("GET /evaluation-jobs/{jobIdentifier}", a.Bedrock(func(w http.ResponseWriter, r *http.Request) error {
		ident := r.PathValue("jobIdentifier")
		if err := authorize(r, "bedrock:GetEvaluationJob", ident); err != nil {
			return err
		}
		j, err := svc.GetEvaluationJob(r.Context(), ident)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, j)
	}))
	mux.Handle("GET /evaluation-jobs", a.Bedrock(func(w http.ResponseWriter, r *http.Request) error {
		if err := authorize(r, "bedrock:ListEvaluationJobs", ""); err != nil {
			return err
		}
		in, err := listEvaluationInput(r.URL.Query())
		if err != nil {
			return err
		}
		list, next, err := svc.ListEvaluationJobs(r.Context(), in)
		if err != nil {
			return err
		}
		if list == nil {
			list = []evaljob.Summary{}
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"jobSummaries": list, "nextToken": nullIfEmpty(next)})
	}))
	mux.Handle("POST /evaluation-job/{jobIdentifier}/stop", a.Bedrock(func(w http.ResponseWriter, r *http.Request) error {
		ident := r.PathValue("jobIdentifier")
		if err := authorize(r, "bedrock:StopEvaluationJob", ident); err != nil {
			return err
		}
		if err := svc.StopEvaluationJob(r.Context(), ident); err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, struct{}{})
	}))
	mux.Handle("POST /evaluation-jobs/batch-delete", a.Bedrock(func(w http.ResponseWriter, r *http.Request) error {
		b, err := a.ReadBody(r)
		if err != nil {
			return err
		}
		var in struct {
			JobIdentifiers []string `json:"jobIdentifiers"`
		}
		if err := DecodeJSON(b, &in); err != nil {
			return err
		}
		if n := len(in.JobIdentifiers); n < 1 || n > 25 {
			return resource.Invalid("jobIdentifiers", "Member must have length between 1 and 25")
		}
		// Every job must be allowed: a denied one fails the whole call,
		// as IAM does for a batch action.
		for _, ident := range in.JobIdentifiers {
			if _, err := svc.JobID(r.Context(), ident); err != nil {
				continue // reported per job below
			}
			if err := authorize(r, "bedrock:BatchDeleteEvaluationJob", ident); err != nil {
				return err
			}
		}
		errs, items, err := svc.BatchDeleteEvaluationJob(r.Context(), in.JobIdentifiers)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, map[string]any{"errors": errs, "evaluationJobs": items})
	}))
}

// listEvaluationInput reads ListEvaluationJobs' query string.
func listEvaluationInput(q url.Values) (evaljob.ListInput, error) {
	var in evaljob.ListInput
	p, err := resource.PageFromQuery(q)
	if err != nil {
		return in, err
	}
	in.Page = p
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"creationTimeAfter", &in.CreationTimeAfter}, {"creationTimeBefore", &in.CreationTimeBefore}} {
		v := q.Get(t.name)
		if v == "" {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			if secs, ferr := strconv.ParseFloat(v, 64); ferr == nil {
				ts, err = time.UnixMilli(int64(secs*1000)), nil
			}
		}
		if err != nil {
			return in, resource.Invalid(t.name, "Member must be an ISO 8601 timestamp")
		}
		*t.dst = ts
	}
	in.StatusEquals = q.Get("statusEquals")
	switch in.StatusEquals {
	case "", evaljob.StatusInProgress, evaljob.StatusCompleted, evaljob.StatusFailed, evaljob.StatusStopping, evaljob.StatusStopped, evaljob.StatusDeleting:
	default:
		return in, resource.Invalid("statusEquals", "Member must satisfy enum value set: [InProgress, Completed, Failed, Stopping, Stopped, Deleting]")
	}
	in.ApplicationTypeEquals = q.Get("applicationTypeEquals")
	switch in.ApplicationTypeEquals {
	case "", "ModelEvaluation", "RagEvaluation":
	default:
		return in, resource.Invalid("applicationTypeEquals", "Member must satisfy enum value set: [ModelEvaluation, RagEvaluation]")
	}
	in.NameContains = q.Get("nameContains")
	if len(in.NameContains) > 63 {
		return in, resource.Invalid("nameContains", "Member must have length between 1 and 63")
	}
	switch sb := q.Get("sortBy"); sb {
	case "", "CreationTime":
	default:
		return in, resource.Invalid("sortBy", "Member must satisfy enum value set: [CreationTime]")
	}
	in.SortOrder = q.Get("sortOrder")
	switch in.SortOrder {
	case "", "Ascending", "Descending":
	default:
		return in, resource.Invalid("sortOrder", "Member must satisfy enum value set: [Ascending, Descending]")
	}
	return in, nil
}
