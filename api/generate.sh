#!/bin/sh
# protoc wrapper for `go generate`: generates Go for the given .proto files,
# relative to the current directory, with api/ on the include path so that
# files can import "v1/mesos/mesos.proto".
#
# Needs protoc (Debian: protobuf-compiler). protoc-gen-go is built from the
# version pinned in go.mod, so the output is reproducible.
set -eu
api=$(cd "$(dirname "$0")" && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$api" && go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go)
protoc --plugin=protoc-gen-go="$bin/protoc-gen-go" -I . -I "$api" \
  --go_out=. --go_opt=paths=source_relative "$@"
