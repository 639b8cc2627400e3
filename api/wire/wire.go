// Package wire chooses and applies the encoding of a Mesos v1 HTTP message:
// application/json (the Mesos JSON rules, see package mesosjson) or
// application/x-protobuf (the standard binary encoding). Content types are
// matched by exact string, as Mesos does: "application/json; charset=utf-8"
// is not JSON here.
package wire

import (
	"strconv"
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

// Negotiate picks the response encoding from an Accept header the way Mesos
// (libprocess) does: JSON if the header accepts it, else protobuf if it
// accepts that; ok is false when it accepts neither (the caller answers 406).
// An absent or empty header accepts everything. A media type is accepted
// when the most specific range naming it (type/subtype, then type/*, then
// */*) has a non-zero quality; media types and ranges compare
// case-insensitively. Relative qualities do not matter: "application/json"
// wins whenever it is acceptable at all, as in Mesos.
func Negotiate(accept string) (e Encoding, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return JSON, true
	}
	ranges := parseAccept(accept)
	switch {
	case accepts(ranges, MediaJSON):
		return JSON, true
	case accepts(ranges, MediaProtobuf):
		return Protobuf, true
	}
	return JSON, false
}

// mediaRange is one element of an Accept header.
type mediaRange struct {
	name string  // lower-case "type/subtype", "type/*" or "*/*"
	q    float64 // quality, 1 when absent
}

func parseAccept(accept string) []mediaRange {
	var ranges []mediaRange
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		ranges = append(ranges, mediaRange{name: name, q: quality(params)})
	}
	return ranges
}

// quality returns the q parameter of a range's parameters: 1 when absent or
// malformed (as libprocess treats it), 0 when not a number.
func quality(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, found := strings.Cut(p, "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0
		}
		return q
	}
	return 1
}

// accepts reports whether the most specific range matching mediaType has a
// non-zero quality.
func accepts(ranges []mediaRange, mediaType string) bool {
	typ, _, _ := strings.Cut(mediaType, "/")
	for _, candidate := range []string{mediaType, typ + "/*", "*/*"} {
		for _, r := range ranges {
			if r.name == candidate {
				return r.q > 0
			}
		}
	}
	return false
}
