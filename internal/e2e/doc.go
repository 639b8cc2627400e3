// Package e2e holds end-to-end tests: real `agora` processes (built once
// per run) on 127.0.0.x addresses, driven by schedulers that speak the HTTP
// API with net/http only. It has no non-test code besides this comment.
package e2e
