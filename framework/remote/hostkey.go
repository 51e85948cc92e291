package remote

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyCheck returns the callback checking h's key against h.KnownHosts,
// and the key algorithms to ask for: those of the keys pinned for h, so a
// host with several keys presents one we know (as ssh does).
func hostKeyCheck(h Host) (ssh.HostKeyCallback, []string, error) {
	var files []string
	for _, f := range h.KnownHosts {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: known hosts %s: %w", h.Name, f, err)
		}
	}
	addFile := "~/.ssh/known_hosts"
	if len(h.KnownHosts) > 0 {
		addFile = h.KnownHosts[0]
	}
	scan := fmt.Sprintf("ssh-keyscan -H %s >> %s", h.Hostname, addFile)
	if h.Port != "22" {
		scan = fmt.Sprintf("ssh-keyscan -H -p %s %s >> %s", h.Port, h.Hostname, addFile)
	}
	unknown := func(key ssh.PublicKey) error {
		return fmt.Errorf("%w: %s (%s) presented %s key %s, which is in none of %s: after checking that fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), add it with `%s`",
			ErrHostKey, h.Name, h.Addr(), key.Type(), ssh.FingerprintSHA256(key), strings.Join(h.KnownHosts, ", "), scan)
	}
	if len(files) == 0 {
		return func(_ string, _ net.Addr, key ssh.PublicKey) error { return unknown(key) }, nil, nil
	}
	db, err := knownhosts.New(files...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: known hosts %s: %w", h.Name, strings.Join(files, ", "), err)
	}
	check := func(_ string, remote net.Addr, key ssh.PublicKey) error {
		// knownhosts wants a TCP address; through a jump the address
		// is the hop's view, and only the name is checked anyway.
		if _, ok := remote.(*net.TCPAddr); !ok {
			remote = &net.TCPAddr{}
		}
		err := db(h.Addr(), remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return unknown(key)
		case errors.As(err, &ke):
			var pinned []string
			for _, w := range ke.Want {
				pinned = append(pinned, fmt.Sprintf("%s %s (%s:%d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
			}
			return fmt.Errorf("%w: %s (%s) presented %s key %s, but %s pinned for it: if the host was reinstalled, check the new fingerprint on the host, remove the old line (ssh-keygen -R %s -f %s) and add the new key with `%s`; otherwise someone may be in between",
				ErrHostKey, h.Name, h.Addr(), key.Type(), ssh.FingerprintSHA256(key), strings.Join(pinned, ", "), knownhosts.Normalize(h.Addr()), ke.Want[0].Filename, scan)
		default:
			return fmt.Errorf("%s: checking host key: %w", h.Name, err)
		}
	}
	return check, pinnedAlgorithms(db, h), nil
}

// probeKey is the ed25519 key of the all-zero seed: pinned for no host.
var probeKey, _ = ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())

// pinnedAlgorithms asks db which keys it holds for h (a probe key that
// cannot match makes it list them) and returns their algorithms; nil
// (x/crypto's defaults) when none are pinned.
func pinnedAlgorithms(db ssh.HostKeyCallback, h Host) []string {
	var ke *knownhosts.KeyError
	if !errors.As(db(h.Addr(), &net.TCPAddr{}, probeKey), &ke) {
		return nil
	}
	var algos []string
	for _, w := range ke.Want {
		switch t := w.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, t)
		}
	}
	slices.Sort(algos)
	return slices.Compact(algos)
}
