package bedrock

import (
	"context"
	"errors"
	"net"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/outcrop/outcrop/internal/llm"
)

// classify maps an SDK error — a modeled Bedrock exception before or
// inside the stream, an HTTP failure, a transport error — to an *llm.Error.
// Bedrock's exception names are Outcrop's, so the client sees the same
// exception real Bedrock sent, except where the failure is Outcrop's
// configuration (credentials, model id) rather than the client's request.
func classify(ctx context.Context, err error) *llm.Error {
	e := &llm.Error{Err: err}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.UpstreamStatus = re.HTTPStatusCode()
	}
	var (
		throttled   *types.ThrottlingException
		unavailable *types.ServiceUnavailableException
		notReady    *types.ModelNotReadyException
		timeout     *types.ModelTimeoutException
		validation  *types.ValidationException
		denied      *types.AccessDeniedException
		notFound    *types.ResourceNotFoundException
		internal    *types.InternalServerException
		modelErr    *types.ModelErrorException
		streamErr   *types.ModelStreamErrorException
		quota       *types.ServiceQuotaExceededException
		apiErr      smithy.APIError
	)
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Kind, e.Message = llm.KindTimeout, "The upstream did not answer in time."
	case ctx.Err() != nil:
		e.Kind, e.Message, e.Err = llm.KindCanceled, "request canceled", errors.Join(llm.ErrCanceled, err)
	case errors.As(err, &throttled):
		e.Kind, e.Message = llm.KindThrottled, "The upstream is throttling requests. Try again later."
		statusIfNone(e, 429)
	case errors.As(err, &quota):
		// The deployment's own quota at AWS, not the client's request:
		// another deployment may have room.
		e.Kind, e.Message = llm.KindThrottled, "The upstream's service quota is exhausted. Try again later."
		statusIfNone(e, 429)
	case errors.As(err, &unavailable):
		e.Kind, e.Message = llm.KindUnavailable, "The upstream is unavailable. Try again later."
		statusIfNone(e, 503)
	case errors.As(err, &notReady):
		e.Kind, e.Message = llm.KindModelNotReady, "The upstream model is not ready. Try again later."
	case errors.As(err, &timeout):
		e.Kind, e.Message = llm.KindTimeout, "The upstream model timed out."
		statusIfNone(e, 408)
	case errors.As(err, &validation):
		e.Kind, e.Message = llm.KindValidation, "The upstream rejected the request: "+validation.ErrorMessage()
		statusIfNone(e, 400)
	case errors.As(err, &denied):
		e.Kind, e.Message = llm.KindModelError, "The upstream rejected Outcrop's credentials for this deployment."
		statusIfNone(e, 403)
	case errors.As(err, &notFound):
		e.Kind, e.Message = llm.KindModelError, "The upstream does not serve this deployment's model."
		statusIfNone(e, 404)
	case errors.As(err, &streamErr):
		e.Kind, e.Message = llm.KindModelError, "The upstream model failed while streaming."
	case errors.As(err, &modelErr):
		e.Kind, e.Message = llm.KindModelError, "The upstream model failed."
		statusIfNone(e, 424)
	case errors.As(err, &internal):
		e.Kind, e.Message = llm.KindModelError, "The upstream failed with an internal error."
		statusIfNone(e, 500)
	case errors.As(err, &apiErr):
		switch {
		case e.UpstreamStatus == 401 || e.UpstreamStatus == 403:
			e.Kind, e.Message = llm.KindModelError, "The upstream rejected Outcrop's credentials for this deployment."
		case e.UpstreamStatus >= 400 && e.UpstreamStatus < 500:
			e.Kind, e.Message = llm.KindValidation, "The upstream rejected the request: "+apiErr.ErrorMessage()
		default:
			e.Kind, e.Message = llm.KindModelError, "The upstream failed."
		}
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			e.Kind, e.Message = llm.KindTimeout, "The upstream did not answer in time."
		} else {
			e.Kind, e.Message = llm.KindUnavailable, "The upstream is unavailable."
		}
	}
	return e
}

func statusIfNone(e *llm.Error, status int) {
	if e.UpstreamStatus == 0 {
		e.UpstreamStatus = status
	}
}
