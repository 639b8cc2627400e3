package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apihttp"
)

// GET_LOGGING_LEVEL / SET_LOGGING_LEVEL and LIST_FILES / READ_FILE: the
// master's own log.
//
// Mesos' level is glog's verbosity: 0 is normal logging and each step
// above is more verbose. Here 0 is slog's Info, 1 Debug, and each further
// step 4 slog levels below (slog.Level(-4*level)); levels above Info
// (Warn, Error) read as 0. SET_LOGGING_LEVEL lasts `duration`, then the
// level the master started with comes back.
//
// The only file is the log, at the virtual path /master/log, when
// Config.LogFile names one; every other path is 404.

const masterLogPath = "/master/log"

// readFileCap bounds one READ_FILE answer: 16 pages, as /files/read.
const readFileCap = 16 * 4096

func verbosityOf(l slog.Level) uint32 {
	if l >= slog.LevelInfo {
		return 0
	}
	return uint32((slog.LevelInfo - l + 3) / 4)
}

func levelOf(verbosity uint32) slog.Level {
	return slog.LevelInfo - slog.Level(4*min(verbosity, 64))
}

func (m *Master) opGetLoggingLevel(context.Context, *masterpb.Call) (operatorResult, error) {
	resp := response(masterpb.Response_GET_LOGGING_LEVEL)
	resp.GetLoggingLevel = &masterpb.Response_GetLoggingLevel{Level: proto.Uint32(verbosityOf(m.cfg.LogLevel.Level()))}
	return operatorResult{resp: resp}, nil
}

func (m *Master) opSetLoggingLevel(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	set := call.GetSetLoggingLevel()
	if set == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'set_logging_level' to be present")
	}
	d := time.Duration(set.GetDuration().GetNanoseconds())
	if d <= 0 {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "'set_logging_level.duration' must be positive")
	}
	return m.onLoop(ctx, func() (operatorResult, error) {
		m.cfg.LogLevel.Set(levelOf(set.GetLevel()))
		if m.ops.logRevert != nil {
			m.ops.logRevert.Stop()
		}
		base := m.baseLogLevel
		m.ops.logRevert = time.AfterFunc(d, func() { m.cfg.LogLevel.Set(base) })
		m.log.Info("logging level changed", "level", set.GetLevel(), "duration", d)
		return operatorResult{}, nil
	})
}

func (m *Master) opListFiles(_ context.Context, call *masterpb.Call) (operatorResult, error) {
	if call.ListFiles == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'list_files' to be present")
	}
	path := call.GetListFiles().GetPath()
	info, err := m.statFile(path)
	if err != nil {
		return operatorResult{}, err
	}
	resp := response(masterpb.Response_LIST_FILES)
	resp.ListFiles = &masterpb.Response_ListFiles{FileInfos: []*mesos.FileInfo{fileInfo(path, info)}}
	return operatorResult{resp: resp}, nil
}

func (m *Master) opReadFile(_ context.Context, call *masterpb.Call) (operatorResult, error) {
	rf := call.GetReadFile()
	if rf == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'read_file' to be present")
	}
	if _, err := m.statFile(rf.GetPath()); err != nil {
		return operatorResult{}, err
	}
	size, data, err := readAt(m.cfg.LogFile, rf.GetOffset(), rf.GetLength(), rf.Length != nil)
	if err != nil {
		return operatorResult{}, apihttp.Errorf(http.StatusInternalServerError, "Failed to read %s: %v", rf.GetPath(), err)
	}
	resp := response(masterpb.Response_READ_FILE)
	resp.ReadFile = &masterpb.Response_ReadFile{Size: proto.Uint64(size), Data: data}
	return operatorResult{resp: resp}, nil
}

// statFile resolves a virtual path: only /master/log exists, and only with
// a log file.
func (m *Master) statFile(path string) (fs.FileInfo, error) {
	if path != masterLogPath || m.cfg.LogFile == "" {
		return nil, apihttp.Errorf(http.StatusNotFound, "No file or directory found at path '%s'", path)
	}
	info, err := os.Stat(m.cfg.LogFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, apihttp.Errorf(http.StatusNotFound, "No file or directory found at path '%s'", path)
	}
	if err != nil {
		return nil, apihttp.Errorf(http.StatusInternalServerError, "Failed to stat %s: %v", path, err)
	}
	return info, nil
}

// readAt reads up to length bytes (all, capped, when no length is given)
// at offset; past the end the data is empty. It returns the file's size.
func readAt(name string, offset, length uint64, hasLength bool) (uint64, []byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	size := uint64(info.Size())
	if !hasLength || length > readFileCap {
		length = readFileCap
	}
	if offset >= size {
		return size, []byte{}, nil
	}
	buf := make([]byte, min(length, size-offset))
	n, err := f.ReadAt(buf, int64(offset))
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, fmt.Errorf("reading at %d: %w", offset, err)
	}
	return size, buf[:n], nil
}

func fileInfo(path string, info fs.FileInfo) *mesos.FileInfo {
	fi := &mesos.FileInfo{
		Path:  proto.String(path),
		Size:  proto.Uint64(uint64(info.Size())),
		Mtime: &mesos.TimeInfo{Nanoseconds: proto.Int64(info.ModTime().UnixNano())},
		Mode:  proto.Uint32(uint32(info.Mode().Perm()) | modeTypeBits(info.Mode())),
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		fi.Nlink = proto.Int32(int32(st.Nlink))
		fi.Uid = proto.String(userName(st.Uid))
		fi.Gid = proto.String(groupName(st.Gid))
	}
	return fi
}

// modeTypeBits are the st_mode file type bits Mesos reports.
func modeTypeBits(m fs.FileMode) uint32 {
	if m.IsDir() {
		return syscall.S_IFDIR
	}
	return syscall.S_IFREG
}

func userName(uid uint32) string {
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(uid))
}

func groupName(gid uint32) string {
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name
	}
	return strconv.Itoa(int(gid))
}
