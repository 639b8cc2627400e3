// Package api holds Agora's public wire types: the Mesos v1 messages (one Go
// package per proto package under v1/), the Mesos JSON codec (mesosjson),
// RecordIO framing (recordio), encoding negotiation (wire) and, under
// marathon/, the Marathon v2 JSON types. Nothing here imports internal/.
//
// The .proto files under v1/ are proto2 sources written from the field table
// of the Mesos v1 wire reference; the generated Go beside them is committed
// and is rebuilt with `go generate ./api` (needs Debian's protobuf-compiler).
package api

//go:generate sh generate.sh v1/mesos/mesos.proto v1/scheduler/scheduler.proto v1/executor/executor.proto v1/master/master.proto v1/agent/agent.proto v1/quota/quota.proto v1/maintenance/maintenance.proto v1/allocator/allocator.proto
