package sshx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/drivelab/drivelab/framework/sshx"
)

// JumpWrongThenRight logs in only where the server refuses a wrong password
// outright and then accepts the right one, and names no password.
func TestJumpWrongThenRight(t *testing.T) {
	const password = "s3cret"
	rightOnly := func(_ ssh.ConnMetadata, p []byte) (*ssh.Permissions, error) {
		if string(p) == password {
			return nil, nil
		}
		return nil, errors.New("wrong password")
	}
	for _, tc := range []struct {
		name string
		cfg  *ssh.ServerConfig
		want error
	}{
		{"refuses a wrong password, accepts the right one", &ssh.ServerConfig{PasswordCallback: rightOnly}, nil},
		{"accepts any password", &ssh.ServerConfig{
			PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) { return nil, nil },
		}, sshx.ErrWrongPassword},
		{"refuses the right password", &ssh.ServerConfig{
			PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) { return nil, errors.New("no") },
		}, sshx.ErrAuth},
		// Any password passes a first step, and the right one the second:
		// offered the right one next, the login would succeed.
		{"takes a wrong password as a first step", &ssh.ServerConfig{
			PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
				return nil, &ssh.PartialSuccessError{Next: ssh.ServerAuthCallbacks{PasswordCallback: rightOnly}}
			},
		}, sshx.ErrWrongPassword},
		{"asks for no password", &ssh.ServerConfig{NoClientAuth: true}, sshx.ErrWrongPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jump := dialTestServer(t)
			target := listen(t, tc.cfg)
			ctx := context.Background()
			c, err := jump.JumpWrongThenRight(ctx, sshx.Target{Name: "t", Addr: target.addr, User: "root",
				HostKey: target.hostKey.PublicKey()}, password)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if out, err := c.Output(ctx, "echo in"); out != "in\n" || err != nil {
					t.Fatalf("session after the login: %q, %v", out, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("a password leaked into the error: %v", err)
			}
		})
	}
}
