// Package apihttp holds the HTTP mechanics every Mesos v1 endpoint shares:
// the request ladder (method, Content-Type by exact match, Accept), bounded
// body reading and decoding in either encoding, plain-text error answers,
// RecordIO event streams, and panic recovery. Master and agent handlers are
// thin adapters over it.
package apihttp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/wire"
)

// MaxBodyBytes bounds every v1 request body. A LAUNCH of many large tasks fits
// easily; a runaway client does not exhaust memory.
const MaxBodyBytes = 16 << 20

// Error is an API error: the status code and the message the client sees.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// Errorf builds an *Error.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WriteError answers err as plain text: an *Error keeps its code, anything
// else is a 500.
func WriteError(w http.ResponseWriter, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		apiErr = &Error{Code: http.StatusInternalServerError, Message: err.Error()}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(apiErr.Code)
	io.WriteString(w, apiErr.Message)
}

// Request is a decoded v1 call.
type Request struct {
	// Encoding of the request body.
	Encoding wire.Encoding
	// Accept is the negotiated response encoding; AcceptOK is false when
	// the Accept header allows neither (a 406 for calls that answer a body).
	Accept   wire.Encoding
	AcceptOK bool
}

// Decode runs the ladder for a v1 POST endpoint and decodes the body into
// msg: 405 for other methods, 400 without a Content-Type, 415 for any type
// but the two exact ones, 413 for an oversized body, 400 for a body that does
// not decode (the message says why).
func Decode(r *http.Request, msg proto.Message) (*Request, error) {
	if r.Method != http.MethodPost {
		return nil, Errorf(http.StatusMethodNotAllowed, "Expecting 'POST', received '%s'", r.Method)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, Errorf(http.StatusBadRequest, "Expecting 'Content-Type' to be present")
	}
	enc, ok := wire.ParseContentType(ct)
	if !ok {
		return nil, Errorf(http.StatusUnsupportedMediaType,
			"Expecting 'Content-Type' of %s or %s", wire.MediaJSON, wire.MediaProtobuf)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, Errorf(http.StatusRequestEntityTooLarge, "Request body exceeds %d bytes", MaxBodyBytes)
		}
		return nil, Errorf(http.StatusBadRequest, "Failed to read request body: %v", err)
	}
	if err := enc.Unmarshal(body, msg); err != nil {
		return nil, Errorf(http.StatusBadRequest, "Failed to parse body into %s: %v",
			msg.ProtoReflect().Descriptor().Name(), err)
	}
	accept, acceptOK := wire.Negotiate(r.Header.Get("Accept"))
	return &Request{Encoding: enc, Accept: accept, AcceptOK: acceptOK}, nil
}

// NotAcceptable is the 406 answer for a call whose Accept allows neither
// encoding.
func NotAcceptable() *Error {
	return Errorf(http.StatusNotAcceptable, "Expecting 'Accept' to allow %s or %s",
		wire.MediaJSON, wire.MediaProtobuf)
}

// WriteMessage answers 200 with msg in the given encoding.
func WriteMessage(w http.ResponseWriter, enc wire.Encoding, msg proto.Message) {
	body, err := enc.Marshal(msg)
	if err != nil {
		WriteError(w, fmt.Errorf("encoding response: %w", err))
		return
	}
	w.Header().Set("Content-Type", enc.ContentType())
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// Recover wraps h so that a panic in a handler becomes a logged 500 instead
// of a crashed process. http.ErrAbortHandler keeps its meaning.
func Recover(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil || p == http.ErrAbortHandler {
				if p != nil {
					panic(p)
				}
				return
			}
			log.Error("handler panic", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			WriteError(w, Errorf(http.StatusInternalServerError, "Internal error: %v", p))
		}()
		h.ServeHTTP(w, r)
	})
}
