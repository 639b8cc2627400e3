// Package mesosjson is the Mesos JSON encoding of the v1 API messages: the
// rules of Mesos' own protobuf<->JSON converter (stout), not proto3's
// canonical JSON. It serves every generated message (and dynamicpb ones)
// from its descriptor, with no per-message code.
//
// # Output
//
//   - Keys are the proto field names (snake_case), in declaration order: the
//     order of the .proto file, which is the order Mesos writes them in.
//   - Repeated and map fields appear only when non-empty. A singular field
//     appears when it is set, or when it is unset but declares a default and
//     is not deprecated (so "checkpoint":false, "shell":true,
//     "refuse_seconds":5.0 always appear). Fields without presence (the
//     proto3 scalars of google.protobuf.Duration) always appear, so a
//     Duration is {"seconds":600,"nanos":0}.
//   - Enums are value-name strings; a value the enum does not define is
//     left out (and is then an error if the field is required). Every integer
//     type, 64-bit included, is a bare JSON number.
//   - Doubles use the shortest digits that read back exactly, with ".0" on
//     integral values (15.0) and exponents outside [1e-6, 1e21), as Mesos'
//     rapidjson writer does; non-finite values are the bare tokens Infinity,
//     -Infinity and NaN. Floats use the shortest float32 digits.
//   - bytes are standard base64 with padding. Strings are valid UTF-8, with
//     '"', '\\' and control characters escaped (invalid UTF-8 in a string
//     field becomes U+FFFD).
//   - Maps are objects with keys in sorted order; message values are objects.
//   - A required field that is unset and has no default is an error, as it is
//     for proto.Marshal.
//
// # Input
//
// Unmarshal is a tolerant reader of what Mesos and its clients send:
//
//   - Unknown keys are ignored; null means unset. For a repeated key the last
//     occurrence wins (a message is replaced, not merged). A non-array value
//     for a repeated field is a one-element list, as Mesos reads it; null
//     inside an array or as a map value is an error.
//   - Enums must be names; a number is an error. An unknown name is an error
//     in a required field and is dropped in an optional or repeated one (and
//     drops the entry in a map).
//   - Numbers may be quoted ("5"). Integers may be written "5.0" or "5e0"; a
//     fraction or a value out of the field's range is an error. Doubles also
//     take Infinity, -Infinity and NaN, bare or quoted. Bools also take
//     "true" and "false".
//   - bytes take standard or URL-safe base64, padded or not.
//   - The top-level value must be an object; nesting is limited to MaxDepth.
//     Strings must be valid UTF-8; unpaired \u surrogates become U+FFFD.
//   - Every required field must be set, recursively, including inside list
//     elements and map values; the error names the path, e.g.
//     missing required field 'subscribe.framework_info.user'.
//
// Errors are *Error values whose messages are safe to return to API clients.
//
// # How it works
//
// Both directions go through the protobuf wire form so that protobuf-go's
// generated fast path does the field access, which is several times faster
// than reading or setting fields one by one through protoreflect. Marshal
// runs proto.Marshal and walks the wire bytes, writing JSON into one []byte;
// Unmarshal parses the JSON with a hand-written tokenizer straight into wire
// bytes and hands them to proto.Unmarshal. Both are driven by field tables
// built once per message descriptor and cached. Scratch buffers are pooled;
// nothing returned aliases them.
package mesosjson

import (
	"google.golang.org/protobuf/proto"
)

// Marshal encodes m in Mesos JSON.
func Marshal(m proto.Message) ([]byte, error) {
	return AppendMarshal(nil, m)
}

// AppendMarshal appends the Mesos JSON encoding of m to dst. On error it
// returns dst unchanged.
func AppendMarshal(dst []byte, m proto.Message) ([]byte, error) {
	if m == nil {
		return dst, &Error{Offset: -1, msg: "cannot marshal a nil message"}
	}
	mr := m.ProtoReflect()
	if !mr.IsValid() { // a typed nil pointer: an empty message
		return append(dst, "{}"...), nil
	}
	e := encoderPool.Get().(*encoder)
	defer e.release()
	out, err := e.marshal(dst, mr)
	if err != nil {
		return dst, finish(err)
	}
	return out, nil
}

// Unmarshal decodes Mesos JSON into m, which is reset first.
func Unmarshal(data []byte, m proto.Message) error {
	proto.Reset(m)
	t := transcoderPool.Get().(*transcoder)
	defer t.release()
	return finish(t.unmarshal(data, m.ProtoReflect()))
}

// finish fills in the path of an *Error once it has reached the top.
func finish(err error) error {
	if e, ok := err.(*Error); ok {
		e.resolvePath()
	}
	return err
}
