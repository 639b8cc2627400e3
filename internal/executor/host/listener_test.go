package host

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/agoraproject/agora/internal/testenv"
)

// serveName serves HTTP on ln, answering every request with name.
func serveName(t *testing.T, ln net.Listener, name string) *http.Server {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv
}

// whoAnswers GETs http://endpoint/ through d on a fresh connection and
// returns the answer.
func whoAnswers(t *testing.T, d *agentDialer, endpoint string) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := client.Get("http://" + endpoint + "/")
	if err != nil {
		t.Fatalf("GET through the dialer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestAgentDialerPrefersTheSocket: an endpoint routed to a socket is
// reached through it while it listens, over TCP once it is gone; other
// endpoints over TCP.
func TestAgentDialerPrefersTheSocket(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveName(t, tcp, "tcp")
	socket := AgentSocketName(t.TempDir())
	unixLn, err := ListenOwnUser(socket)
	if err != nil {
		t.Fatal(err)
	}
	unixSrv := serveName(t, unixLn, "unix")

	d := newAgentDialer()
	endpoint := tcp.Addr().String()
	if got := whoAnswers(t, d, endpoint); got != "tcp" {
		t.Errorf("before routing: answered by %s, want tcp", got)
	}
	d.route(endpoint, socket)
	if got := whoAnswers(t, d, endpoint); got != "unix" {
		t.Errorf("routed: answered by %s, want unix", got)
	}
	unixSrv.Close()
	if got := whoAnswers(t, d, endpoint); got != "tcp" {
		t.Errorf("with the socket closed: answered by %s, want tcp", got)
	}
}

// TestAgentDialerIgnoresASocketOfAnotherUser: a process of another user
// that holds the agent's socket name is not taken for the agent.
func TestAgentDialerIgnoresASocketOfAnotherUser(t *testing.T) {
	testenv.RequireRoot(t, "a listener of another user")
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveName(t, tcp, "tcp")
	socket := AgentSocketName(t.TempDir())
	impostor := exec.Command(copyForAll(t, os.Args[0]))
	impostor.Env = append(os.Environ(), "AGORA_TEST_LISTEN="+socket)
	impostor.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := impostor.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := impostor.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { impostor.Process.Kill(); impostor.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "listening\n" {
		t.Fatalf("the other user's listener: %q, %v", line, err)
	}

	d := newAgentDialer()
	d.route(tcp.Addr().String(), socket)
	if got := whoAnswers(t, d, tcp.Addr().String()); got != "tcp" {
		t.Errorf("answered by %s, want tcp (the socket is another user's)", got)
	}
}

// TestMain runs the impostor of the test above when the test binary is
// started as one (AGORA_TEST_LISTEN names the socket), the tests otherwise.
func TestMain(m *testing.M) {
	if socket := os.Getenv("AGORA_TEST_LISTEN"); socket != "" {
		listenAsImpostor(socket)
		return
	}
	os.Exit(m.Run())
}

// listenAsImpostor serves on socket until killed, answering "impostor".
func listenAsImpostor(socket string) {
	ln, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.WriteString("listening\n")
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "impostor") }))
}

// copyForAll copies the executable at path where every user may run it
// (the test binary's own directory is root's only).
func copyForAll(t *testing.T, path string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "agora-host-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
