package sshx

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// ErrWrongPassword marks a server that let a login in without the right
// password: with a wrong one, or with none.
var ErrWrongPassword = errors.New("logged in without the right password")

// errWrongPartlyIn stops a login whose wrong password the server took as the
// first step of several.
var errWrongPartlyIn = errors.New("a wrong password passed as the first step of several")

// JumpWrongThenRight is Jump logging in with password on a connection that
// first offers a wrong password: the server must refuse that one outright
// and accept password. The login fails with ErrWrongPassword when the server
// let it in otherwise, and with ErrAuth when it refused password. One
// connection shows both, where a login for each would cost another sshd
// start: seconds on an emulated guest. t.Auth is not used.
func (c *Client) JumpWrongThenRight(ctx context.Context, t Target, password string) (*Client, error) {
	offered := 0 // passwords offered; the handshake calls pick in turn
	t.Auth = nil
	t.pick = func(ac *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
		offered++
		switch {
		case offered == 1:
			return ssh.Password("not-" + password), nil
		case offered > 2:
			return nil, nil // password was refused too: nothing is left to try
		case len(ac.PartialSuccessMethods) > 0:
			return nil, errWrongPartlyIn
		}
		return ssh.Password(password), nil
	}
	jc, err := c.Jump(ctx, t)
	wrongIn := func(how string) error {
		return fmt.Errorf("%s: login as %s at %s: %w: %s", t.Name, t.User, t.Addr, ErrWrongPassword, how)
	}
	switch {
	case errors.Is(err, errWrongPartlyIn):
		return nil, wrongIn(errWrongPartlyIn.Error())
	case err != nil:
		return nil, err
	case offered == 2:
		return jc, nil
	}
	jc.Close()
	if offered == 0 {
		return nil, wrongIn("no password was asked for")
	}
	return nil, wrongIn("a wrong password was accepted")
}
