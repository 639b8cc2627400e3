package host

import (
	"net"

	"golang.org/x/sys/unix"
)

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
