// Package wire chooses and applies the encoding of a Mesos v1 HTTP message:
// application/json (the Mesos JSON rules, see package mesosjson) or
// application/x-protobuf (the standard binary encoding). Content types are
// matched by exact string, as Mesos does: "application/json; charset=utf-8"
// is not JSON here.
package wire

import (
	"fmt"
	"mime"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/mesosjson"
)

// Media types of the v1 APIs.
const (
	MediaJSON     = "application/json"
	MediaProtobuf = "application/x-protobuf"
	MediaRecordIO = "application/recordio"
)

// Encoding is one of the two message encodings.
type Encoding int

const (
	// JSON is the Mesos JSON encoding (application/json).
	JSON Encoding = iota
	// Protobuf is the binary protobuf encoding (application/x-protobuf).
	Protobuf
)

// String returns the encoding's media type.
func (e Encoding) String() string { return e.ContentType() }

// ContentType returns the media type naming the encoding.
func (e Encoding) ContentType() string {
	if e == Protobuf {
		return MediaProtobuf
	}
	return MediaJSON
}

// Marshal encodes m.
func (e Encoding) Marshal(m proto.Message) ([]byte, error) {
	if e == Protobuf {
		return proto.Marshal(m)
	}
	return mesosjson.Marshal(m)
}

// Unmarshal decodes data into m, enforcing required fields in both encodings.
func (e Encoding) Unmarshal(data []byte, m proto.Message) error {
	if e == Protobuf {
		return proto.Unmarshal(data, m)
	}
	return mesosjson.Unmarshal(data, m)
}

// ParseContentType maps a request's Content-Type header to an encoding by
// exact match. ok is false for anything else, including parameters.
func ParseContentType(contentType string) (e Encoding, ok bool) {
	switch contentType {
	case MediaJSON:
		return JSON, true
	case MediaProtobuf:
		return Protobuf, true
	}
	return JSON, false
}

// Negotiate picks the response encoding from an Accept header: absent, empty
// or a wildcard means JSON; otherwise the first acceptable of the listed media
// types with a non-zero quality. ok is false when neither encoding is
// acceptable (the caller answers 406).
func Negotiate(accept string) (e Encoding, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return JSON, true
	}
	best, bestQ := JSON, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if _, err := fmt.Sscanf(qs, "%g", &q); err != nil {
				continue
			}
		}
		if q <= 0 {
			continue
		}
		var cand Encoding
		switch mt {
		case MediaJSON, "*/*", "application/*":
			cand = JSON
		case MediaProtobuf:
			cand = Protobuf
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = cand, q
		}
	}
	return best, bestQ > 0
}
