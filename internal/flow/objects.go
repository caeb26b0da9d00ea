package flow

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/outcrop/outcrop/internal/store"
)

// ObjectStore is what Storage and Retrieval nodes read and write in place
// of Amazon S3: objects by (account, bucket, key).
type ObjectStore interface {
	Put(ctx context.Context, account, bucket, key, content string) error
	// Get returns ErrNoSuchKey for a missing object.
	Get(ctx context.Context, account, bucket, key string) (string, error)
}

// ErrNoSuchKey is ObjectStore.Get's error for a missing object.
var ErrNoSuchKey = errors.New("NoSuchKey: the specified key does not exist")

// MaxObjectSize bounds one stored object (bytes).
const MaxObjectSize = 5 << 20

// SQLObjects is the ObjectStore Outcrop uses: a table of the Outcrop
// database (flow_objects), keyed by account, bucket and key. It stands for
// S3 in Storage and Retrieval nodes: it is transactional, it lives wherever
// the executions live (so every replica sharing a PostgreSQL database sees
// the same objects), and each account has its own namespace of buckets.
type SQLObjects struct {
	DB  *store.DB
	Now func() time.Time
}

var _ ObjectStore = (*SQLObjects)(nil)

// Put implements ObjectStore; writing the same object again (a node
// replayed after a crash) leaves one object.
func (o *SQLObjects) Put(ctx context.Context, account, bucket, key, content string) error {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	_, err := o.DB.Exec(ctx, `INSERT INTO flow_objects (account, bucket, object_key, content, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (account, bucket, object_key) DO UPDATE SET content = excluded.content, updated_at = excluded.updated_at`,
		account, bucket, key, content, now().UnixMilli())
	return err
}

// Get implements ObjectStore.
func (o *SQLObjects) Get(ctx context.Context, account, bucket, key string) (string, error) {
	var content string
	err := o.DB.QueryRow(ctx, `SELECT content FROM flow_objects WHERE account = ? AND bucket = ? AND object_key = ?`, []any{account, bucket, key}, &content)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNoSuchKey
	}
	return content, err
}

// StorageConfig is the Storage and Retrieval nodes' configuration.
type StorageConfig struct {
	ServiceConfiguration struct {
		S3 *struct {
			BucketName string `json:"bucketName"`
		} `json:"s3"`
	} `json:"serviceConfiguration"`
}

// objectKeyBad finds what an object key may not hold (S3 keys are 1 to 1024
// bytes; Outcrop also refuses control characters).
var objectKeyBad = regexp.MustCompile(`[\x00-\x1f\x7f]`)

func (r *Runner) objects(ctx context.Context, x *Execution, run *Run) Event {
	kind := "storage"
	if run.Node.Type == NodeRetrieval {
		kind = "retrieval"
	}
	fail := func(format string, args ...any) Event {
		return Event{Failed: &NodeFailed{Activation: run.Activation,
			Message: fmt.Sprintf("%s node %q: ", kind, run.Node.Name) + fmt.Sprintf(format, args...)}}
	}
	if r.Objects == nil {
		return fail("no object store is configured on this server")
	}
	var sc StorageConfig
	if _, err := run.Node.config(&sc); err != nil || sc.ServiceConfiguration.S3 == nil {
		return fail("serviceConfiguration.s3.bucketName is required")
	}
	bucket := sc.ServiceConfiguration.S3.BucketName
	var key string
	var content Value
	for _, in := range run.Inputs {
		switch in.Name {
		case "objectKey":
			key, _ = in.Value.(string)
		case "content":
			content = in.Value
		}
	}
	if key == "" || len(key) > 1024 || objectKeyBad.MatchString(key) {
		return fail("objectKey must be 1 to 1024 characters without control characters")
	}
	if run.Node.Type == NodeRetrieval {
		text, err := r.Objects.Get(ctx, x.Account, bucket, key)
		if err != nil {
			return fail("s3://%s/%s: %v", bucket, key, err)
		}
		return Event{Done: &NodeDone{Activation: run.Activation, Outputs: map[string]Value{"s3Content": text}}}
	}
	text := valueText(content)
	if len(text) > MaxObjectSize {
		return fail("the content is %d bytes; at most %d are stored", len(text), MaxObjectSize)
	}
	if err := r.Objects.Put(ctx, x.Account, bucket, key, text); err != nil {
		return fail("s3://%s/%s: %v", bucket, key, err)
	}
	return Event{Done: &NodeDone{Activation: run.Activation, Outputs: map[string]Value{"s3Uri": "s3://" + bucket + "/" + key}}}
}
