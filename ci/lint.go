package ci

import (
	"io"
	"os/exec"

	"github.com/rhysd/actionlint"
)

// Lint runs actionlint on a workflow's content as the project at root sees
// it (root/.github/actionlint.yaml names the runner's labels and the
// repository variables), with shellcheck on every `run:` script when it is
// on PATH (`make test` installs it). path names the file in the errors.
func Lint(root, path string, content []byte) ([]*actionlint.Error, error) {
	opts := &actionlint.LinterOptions{WorkingDir: root}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	}
	l, err := actionlint.NewLinter(io.Discard, opts)
	if err != nil {
		return nil, err
	}
	project, err := actionlint.NewProject(root)
	if err != nil {
		return nil, err
	}
	return l.Lint(path, content, project)
}

// ShellcheckUsed says whether Lint runs shellcheck here.
func ShellcheckUsed() bool {
	_, err := exec.LookPath("shellcheck")
	return err == nil
}
