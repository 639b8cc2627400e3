// Command testapp is a tiny service for the apps framework's end-to-end
// tests. It listens on $PORT0 and answers GET /health and GET /ready:
//
//	testapp serve       /health 200
//	testapp unhealthy   /health 503
//
// Any other path answers 200 with the task id, so tests can tell
// instances apart.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	mode := "serve"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	port := os.Getenv("PORT0")
	host := os.Getenv("HOST")
	if port == "" {
		fmt.Fprintln(os.Stderr, "testapp: PORT0 is not set")
		os.Exit(2)
	}
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if mode == "unhealthy" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, os.Getenv("MESOS_TASK_ID"))
	})
	if err := http.ListenAndServe(host+":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}
