package lint_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/testenv"
)

// userKey is a user's own key, not the harness's.
const userKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ1c2VyIGtleSBmb3IgdGhlIGxpbnQgY29ycHVzIG9ubHk user@laptop"

const rootPassword = "#cloud-config\nchpasswd:\n  expire: false\n  users:\n    - {name: root, password: {{json .Node.Password}}, type: text}\n"

// A top-level ssh_authorized_keys in user_data replaces the harness's root
// key (cloud-init's ConfigMerger, util.mergemanydict, user_data first). The
// fix lint suggests keeps both, as the same merger decides; a merge_how
// does not (CloudConfigPartHandler drops it after merging user_data's own
// parts), which is why lint does not suggest it.
func TestMergeKeepsTheHarnessAccess(t *testing.T) {
	testenv.Need(t, haveCloudInit(), "Debian's cloud-init is not importable from %s", lint.SystemPython)
	lintUserData := func(cc string) []string {
		r, _ := run(t, "debian12", map[string]string{"user_data.client.tmpl": rootPassword + cc})
		var out []string
		for _, p := range r.Errors() {
			out = append(out, p.String())
		}
		return out
	}
	errs := lintUserData("ssh_authorized_keys: [" + userKey + "]\n")
	if len(errs) != 1 || !strings.Contains(errs[0], "user_data would lock the harness out: a top-level ssh_authorized_keys") {
		t.Fatalf("top-level keys: %q", errs)
	}
	fix := regexp.MustCompile("`(users: .*?)`").FindStringSubmatch(errs[0])
	if fix == nil {
		t.Fatalf("no fix in %q", errs[0])
	}
	fixed := strings.Replace(fix[1], "[...]", "["+userKey+"]", 1)
	if errs := lintUserData(fixed + "\n"); len(errs) != 0 {
		t.Errorf("the suggested fix %q is refused: %q", fixed, errs)
	}
	if errs := lintUserData("merge_how: dict(recurse_array,no_replace)+list(append)\nssh_authorized_keys: [" + userKey + "]\n"); len(errs) != 1 {
		t.Errorf("merge_how taken to keep the harness's key, which cloud-init's merger does not: %q", errs)
	}
	// Host keys the user adds next to the pinned one are kept, by the
	// same merger (dicts merge key by key).
	if errs := lintUserData("ssh_keys: {rsa_private: x, rsa_public: y}\n"); len(errs) != 0 {
		t.Errorf("an rsa host key beside the pinned ed25519 one: %q", errs)
	}
}
