package record

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ValidationError is why a batch was refused, carrying the Kafka error code
// the produce response should hold. errors.Is(err, kerr.CorruptMessage) and
// friends work through Unwrap.
type ValidationError struct {
	// Err is the Kafka error for the partition response.
	Err *kerr.Error
	// Msg is the human-readable detail, suitable for the produce response's
	// ErrorMessage field.
	Msg string
	// RecordErrors lists the records at fault, by index within the batch,
	// for the produce response's RecordErrors (v8+). It is set only for
	// per-record checks (timestamps, keys of compacted topics), as Kafka does.
	RecordErrors []RecordError
}

// RecordError names one refused record of a batch.
type RecordError struct {
	Index   int32 // position of the record in its batch, from 0
	Message string
}

func (e *ValidationError) Error() string {
	if e.Msg == "" {
		return e.Err.Message
	}
	return e.Err.Message + ": " + e.Msg
}

// Unwrap returns the Kafka error.
func (e *ValidationError) Unwrap() error { return e.Err }

func newError(code *kerr.Error, format string, args ...any) *ValidationError {
	return &ValidationError{Err: code, Msg: fmt.Sprintf(format, args...)}
}

func corrupt(format string, args ...any) *ValidationError {
	return newError(kerr.CorruptMessage, format, args...)
}

func invalidRecord(format string, args ...any) *ValidationError {
	return newError(kerr.InvalidRecord, format, args...)
}
