package host

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ListenOwnUser listens on the abstract Unix socket name, accepting peers
// of this process's user only.
func ListenOwnUser(name string) (net.Listener, error) {
	ln, err := net.Listen("unix", name)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", name, err)
	}
	return &ownUserListener{Listener: ln, uid: os.Geteuid()}, nil
}

// ownUserListener accepts connections from processes of one user only: an
// abstract socket has no file permissions to keep others out.
type ownUserListener struct {
	net.Listener
	uid int
}

func (l *ownUserListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if peerUID(conn) == l.uid {
			return conn, nil
		}
		conn.Close()
	}
}

// peerUID is the user of the process at the other end of a Unix
// connection, -1 when unknown.
func peerUID(conn net.Conn) int {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return -1
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1
	}
	uid := -1
	raw.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			uid = int(cred.Uid)
		}
	})
	return uid
}

// agentDialer connects hosted executors to their agent: through the Unix
// socket the agent named in the launch request, where one was named and a
// process of the host's own user listens on it; over TCP otherwise (an
// agent that serves no socket, or a restarted one not listening yet). The
// user check keeps a process of another user that took the abstract name
// first from posing as the agent.
type agentDialer struct {
	tcp, unix net.Dialer

	mu      sync.Mutex
	sockets map[string]string // agent endpoint (host:port) → socket
}

func newAgentDialer() *agentDialer {
	return &agentDialer{
		tcp:     net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		unix:    net.Dialer{Timeout: 5 * time.Second},
		sockets: make(map[string]string),
	}
}

// route sends the connections to endpoint through socket ("" keeps TCP).
func (d *agentDialer) route(endpoint, socket string) {
	if socket == "" {
		return
	}
	d.mu.Lock()
	d.sockets[endpoint] = socket
	d.mu.Unlock()
}

// DialContext is the transports' dialer; addr is the agent's endpoint.
func (d *agentDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	socket := d.sockets[addr]
	d.mu.Unlock()
	if socket != "" {
		conn, err := d.unix.DialContext(ctx, "unix", socket)
		if err == nil && peerUID(conn) == os.Geteuid() {
			return conn, nil
		}
		if err == nil {
			conn.Close()
		}
	}
	return d.tcp.DialContext(ctx, network, addr)
}
