// Package spec turns client JSON into normalised AppDefinitions: path ids
// and their resolution, decoding (400 on malformed JSON, with the field
// path), defaults and deprecated-field conversion, partial-update merging,
// validation (422 with every offending field path), service-port
// assignment, and the config-versus-scale classification of a change
// (reference §3.1, §4.1). Everything here is pure.
package spec
