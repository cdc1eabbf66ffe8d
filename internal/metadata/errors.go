package metadata

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Error is a metadata error a Kafka API handler can answer with directly: Code is the Kafka
// error code and Message the human-readable text Kafka would put in the response's
// ErrorMessage field.
//
// errors.Is(err, kerr.TopicAlreadyExists) and errors.As(err, new(*kerr.Error)) both work on
// it, so handlers need not know this type; KafkaError extracts both halves in one call.
type Error struct {
	Code    *kerr.Error
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes the Kafka error code to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Code }

func errorf(code *kerr.Error, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// KafkaError returns the Kafka error code and message for err: the code it wraps, or
// UNKNOWN_SERVER_ERROR for an error that carries none. A nil err gives (nil, "").
func KafkaError(err error) (*kerr.Error, string) {
	if err == nil {
		return nil, ""
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke, err.Error()
	}
	return kerr.UnknownServerError, err.Error()
}

// ErrClosed is returned by the write methods of a Store that has been closed.
var ErrClosed = errors.New("metadata store is closed")
