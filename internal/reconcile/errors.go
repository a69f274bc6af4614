package reconcile

import (
	"errors"
	"fmt"
	"time"
)

// StallingError means the spec cannot work as written: a person must change
// it. The object is marked Stalled and not retried until it changes.
type StallingError struct {
	Reason string
	Err    error
}

func (e *StallingError) Error() string { return e.Err.Error() }
func (e *StallingError) Unwrap() error { return e.Err }

// Stalling wraps err as a StallingError with a condition reason.
func Stalling(reason string, format string, args ...any) error {
	return &StallingError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// WaitingError means something the object depends on is not there yet; the
// object is looked at again after RequeueAfter, without an error backoff.
type WaitingError struct {
	Reason       string
	Err          error
	RequeueAfter time.Duration
}

func (e *WaitingError) Error() string { return e.Err.Error() }
func (e *WaitingError) Unwrap() error { return e.Err }

// Waiting wraps a message as a WaitingError.
func Waiting(reason string, after time.Duration, format string, args ...any) error {
	return &WaitingError{Reason: reason, RequeueAfter: after, Err: fmt.Errorf(format, args...)}
}

// AsStalling returns the StallingError in err's chain, if any.
func AsStalling(err error) (*StallingError, bool) {
	var s *StallingError
	return s, errors.As(err, &s)
}

// AsWaiting returns the WaitingError in err's chain, if any.
func AsWaiting(err error) (*WaitingError, bool) {
	var w *WaitingError
	return w, errors.As(err, &w)
}
