// Package marathon holds the JSON types of the Marathon REST API v2 as Agora
// serves it (reference: marathon-v2-api.md). Field names, types and the
// omission rules are the wire contract: strict clients (go-marathon,
// marathon-python) reject unknown keys, so a response carries exactly the
// fields declared here. The types use encoding/json; the few polymorphic
// values (env entries, unreachableStrategy, constraints) have their own
// marshalers.
//
// Requests are decoded leniently (unknown keys are ignored, as Marathon
// does); defaults and validation live in the server, not here.
package marathon
