// Package protocol holds the messages of the agent protocol, the link between
// an Agora agent and the leading master (protocol.proto, docs/agent-protocol.md).
// It is internal: only Agora agents speak it. The generated Go is committed and
// rebuilt with `go generate ./internal/protocol`.
package protocol

//go:generate sh ../../api/generate.sh protocol.proto
