// Package mesosjson is the Mesos JSON encoding of the v1 API messages.
//
// TEMPORARY: this placeholder delegates to protojson until the real codec
// lands; it does not follow the Mesos rules.
package mesosjson

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Marshal encodes m in Mesos JSON.
func Marshal(m proto.Message) ([]byte, error) {
	return protojson.MarshalOptions{UseProtoNames: true, UseEnumNumbers: false}.Marshal(m)
}

// Unmarshal decodes Mesos JSON into m.
func Unmarshal(data []byte, m proto.Message) error {
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, m)
}
