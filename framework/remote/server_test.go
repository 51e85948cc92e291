package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testServer is an SSH server on loopback, enough of sshd for this
// package: exec runs `sh -c` here in a temp dir with fake host commands
// first on PATH, direct-tcpip forwards (a jump host), direct-streamlocal
// connects to unix sockets unless refused, and keepalives are answered
// unless silent.
type testServer struct {
	addr    string
	hostKey ssh.Signer
	dir     string // the commands' working directory
	bin     string // first on their PATH

	forwards    atomic.Int32 // direct-tcpip channels served
	refuseUnix  bool
	silent      atomic.Bool  // stop answering global requests
	cutAppendAt atomic.Int64 // > 0: the next `cat >>` gets this many bytes, then the connection drops
	mu          sync.Mutex
	conns       []net.Conn
}

func newKey(t *testing.T) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(block)
	s, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return s, pemBytes
}

func startServer(t *testing.T, clientKey ssh.PublicKey, setup func(*testServer)) *testServer {
	t.Helper()
	hostKey, _ := newKey(t)
	s := &testServer{hostKey: hostKey, dir: t.TempDir(), bin: t.TempDir()}
	if setup != nil {
		setup(s)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(clientKey.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go s.serve(c, cfg)
		}
	}()
	return s
}

func (s *testServer) serve(c net.Conn, cfg *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	go func() {
		for r := range reqs {
			if !s.silent.Load() {
				r.Reply(false, nil) // as sshd: keepalive@openssh.com is "unknown", but answered
			}
		}
	}()
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			go s.session(c, nc)
		case "direct-tcpip":
			var p struct {
				Host     string
				Port     uint32
				OrigHost string
				OrigPort uint32
			}
			ssh.Unmarshal(nc.ExtraData(), &p)
			s.forwards.Add(1)
			go relay(nc, "tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
		case "direct-streamlocal@openssh.com":
			if s.refuseUnix {
				nc.Reject(ssh.Prohibited, "administratively prohibited")
				continue
			}
			var p struct {
				Path      string
				Reserved0 string
				Reserved1 uint32
			}
			ssh.Unmarshal(nc.ExtraData(), &p)
			go relay(nc, "unix", p.Path)
		default:
			nc.Reject(ssh.UnknownChannelType, "no")
		}
	}
}

func relay(nc ssh.NewChannel, network, addr string) {
	conn, err := net.Dial(network, addr)
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		conn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() { io.Copy(ch, conn); ch.CloseWrite() }()
	io.Copy(conn, ch)
	conn.Close()
	ch.Close()
}

func (s *testServer) session(conn net.Conn, nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	for r := range reqs {
		switch r.Type {
		case "signal":
			continue // the client kills by closing too
		case "exec":
		default:
			r.Reply(false, nil)
			continue
		}
		r.Reply(true, nil)
		line := string(r.Payload[4:])
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir = s.dir
		cmd.Env = append(os.Environ(), "PATH="+s.bin+":"+os.Getenv("PATH"))
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		stdin, _ := cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			return
		}
		cut := int64(0)
		if strings.Contains(line, "cat >>") {
			cut = s.cutAppendAt.Swap(0)
		}
		if cut > 0 {
			// The connection drops after cut bytes: what came through is
			// written (cat ends on EOF), then the TCP connection closes.
			io.CopyN(stdin, ch, cut)
			stdin.Close()
			cmd.Wait()
			conn.Close()
			return
		}
		// As sshd: the command's end ends the session, whether or not the
		// client's stdin has ended; the session's end kills the command.
		go func() { io.Copy(stdin, ch); stdin.Close() }()
		go func() {
			for range reqs {
			}
			cmd.Process.Kill()
		}()
		code := 0
		if err := cmd.Wait(); err != nil {
			code = 255
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() >= 0 {
				code = ee.ExitCode()
			}
		}
		var st [4]byte
		binary.BigEndian.PutUint32(st[:], uint32(code))
		ch.SendRequest("exit-status", false, st[:])
		return
	}
}

// fakeCommand puts an executable script named name first on the
// server's PATH.
func (s *testServer) fakeCommand(t *testing.T, name, script string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.bin, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// login is what a client needs to reach servers: a key file, and a
// known_hosts file pinning the given servers' keys.
type login struct {
	key        ssh.Signer
	keyFile    string
	knownHosts string
}

func newLogin(t *testing.T) *login {
	t.Helper()
	key, pemBytes := newKey(t)
	dir := t.TempDir()
	l := &login{key: key, keyFile: filepath.Join(dir, "id_ed25519"), knownHosts: filepath.Join(dir, "known_hosts")}
	if err := os.WriteFile(l.keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// pin adds a known_hosts line giving addr the key.
func (l *login) pin(t *testing.T, addr string, key ssh.PublicKey) {
	t.Helper()
	f, err := os.OpenFile(l.knownHosts, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"); err != nil {
		t.Fatal(err)
	}
}

// host is the Host for a server at addr.
func (l *login) host(addr string) Host {
	hostname, port, _ := net.SplitHostPort(addr)
	return Host{URI: "qemu+ssh://" + addr + "/system", User: "tester", Hostname: hostname, Port: port,
		KeyFiles: []string{l.keyFile}, KnownHosts: []string{l.knownHosts}, Socket: DefaultSocket, Name: addr}
}
