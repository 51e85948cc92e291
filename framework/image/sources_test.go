package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeAptDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHostSourcesKeepsOnlyTheSuite(t *testing.T) {
	dir := writeAptDir(t, map[string]string{
		"sources.list": "# comment\n" +
			"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian bookworm main contrib\n" +
			"deb-src http://mirror.example/debian bookworm main\n" +
			"deb http://old.example/debian bullseye main\n",
		"sources.list.d/debian.sources": "Types: deb deb-src\n" +
			"URIs: http://deb.example/debian\n" +
			"Suites: bookworm bookworm-updates trixie\n" +
			"Components: main\n" +
			"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n" +
			"\n" +
			"Types: deb\n" +
			"URIs: http://deb.example/debian-security\n" +
			"Suites: bookworm-security\n" +
			"Components: main\n" +
			"Signed-By:\n" +
			" -----BEGIN PGP PUBLIC KEY BLOCK-----\n" +
			" .\n" +
			" mQINBGPL\n" +
			" -----END PGP PUBLIC KEY BLOCK-----\n" +
			"\n" +
			"Types: deb\n" +
			"URIs: http://off.example/debian\n" +
			"Suites: bookworm\n" +
			"Components: main\n" +
			"Enabled: no\n",
		"sources.list.d/nodesource.sources": "Types: deb\nURIs: https://deb.nodesource.example/node_20.x\n" +
			"Suites: nodistro\nComponents: main\n",
		"sources.list.d/google.list":           "deb https://packages.cloud.example/apt cloud-sdk-bookworm main\n",
		"sources.list.d/ignored.list.disabled": "deb http://disabled.example/debian bookworm main\n",
	})
	s, err := hostSources(dir, "bookworm")
	if err != nil {
		t.Fatal(err)
	}
	wantOneLine := "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian bookworm main contrib\n"
	if s.oneLine != wantOneLine {
		t.Errorf("one-line sources:\n%s\nwant:\n%s", s.oneLine, wantOneLine)
	}
	wantDeb822 := "Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n" +
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" +
		"Types: deb\nURIs: http://deb.example/debian-security\nSuites: bookworm-security\nComponents: main\n" +
		"Signed-By: \n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGPL\n -----END PGP PUBLIC KEY BLOCK-----\n\n"
	if s.deb822 != wantDeb822 {
		t.Errorf("deb822 sources:\n%s\nwant:\n%s", s.deb822, wantDeb822)
	}
	for _, bad := range []string{"nodesource", "cloud-sdk", "disabled.example", "off.example", "bullseye", "trixie", "deb-src"} {
		if strings.Contains(s.String(), bad) {
			t.Errorf("sources keep %q:\n%s", bad, s)
		}
	}
	if len(s.from) != 2 {
		t.Errorf("sources come from %q, want sources.list and debian.sources", s.from)
	}
}

func TestHostSourcesWithoutTheSuiteSaysWhatToDo(t *testing.T) {
	dir := writeAptDir(t, map[string]string{
		"sources.list.d/nodesource.sources": "Types: deb\nURIs: https://deb.nodesource.example/node_20.x\nSuites: nodistro\nComponents: main\n",
	})
	_, err := hostSources(dir, "bookworm")
	if err == nil {
		t.Fatal("no bookworm source, no error")
	}
	for _, want := range []string{`"bookworm"`, dir, "--mirror"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
