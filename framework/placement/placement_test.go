package placement_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/placement"
)

const gib = 1024

// placed is the plan as job -> host, what the tests compare.
func placed(p placement.Plan) map[string]string {
	out := map[string]string{}
	for _, a := range p.Assignments {
		out[a.Job.Name] = a.Host
	}
	return out
}

func TestPlace(t *testing.T) {
	equal := []placement.Host{{Name: "a", Cores: 4, MemoryMiB: 16 * gib}, {Name: "b", Cores: 4, MemoryMiB: 16 * gib}}
	for _, tc := range []struct {
		name  string
		jobs  []placement.Job
		hosts []placement.Host
		want  map[string]string
	}{
		{"two equal hosts, two jobs: one each",
			[]placement.Job{{"lb", 2, 4 * gib}, {"cc", 2, 4 * gib}}, equal,
			map[string]string{"cc": "a", "lb": "b"}},
		// The big job takes the only host it fits first; the small one
		// then goes where the load is lower.
		{"the host with more memory gets the big job",
			[]placement.Job{{"small", 2, 2 * gib}, {"big", 2, 10 * gib}},
			[]placement.Host{{Name: "a", Cores: 4, MemoryMiB: 8 * gib}, {Name: "b", Cores: 4, MemoryMiB: 16 * gib}},
			map[string]string{"big": "b", "small": "a"}},
		// a has the cores, only b the memory.
		{"a job that fits only one host",
			[]placement.Job{{"big", 2, 12 * gib}},
			[]placement.Host{{Name: "a", Cores: 8, MemoryMiB: 8 * gib}, {Name: "b", Cores: 2, MemoryMiB: 16 * gib}},
			map[string]string{"big": "b"}},
		{"3 jobs on 2 hosts",
			[]placement.Job{{"j3", 2, 4 * gib}, {"j2", 2, 4 * gib}, {"j1", 4, 8 * gib}}, equal,
			map[string]string{"j1": "a", "j2": "b", "j3": "b"}},
		// Equal memory: vCPUs order them; the heavy job is half a 4-core
		// host's load but twice a 2-core one's.
		{"the 4-core host gets the heavier vCPU job",
			[]placement.Job{{"light", 1, 2 * gib}, {"heavy", 4, 2 * gib}},
			[]placement.Host{{Name: "a", Cores: 2, MemoryMiB: 16 * gib}, {Name: "b", Cores: 4, MemoryMiB: 16 * gib}},
			map[string]string{"heavy": "b", "light": "a"}},
		{"equal loads: the host with more memory left",
			[]placement.Job{{"lb", 2, 2 * gib}},
			[]placement.Host{{Name: "a", Cores: 4, MemoryMiB: 8 * gib}, {Name: "b", Cores: 4, MemoryMiB: 16 * gib}},
			map[string]string{"lb": "b"}},
		{"a job with more vCPUs than any host has cores still places",
			[]placement.Job{{"wide", 16, 4 * gib}},
			[]placement.Host{{Name: "a", Cores: 2, MemoryMiB: 8 * gib}, {Name: "b", Cores: 4, MemoryMiB: 8 * gib}},
			map[string]string{"wide": "b"}},
		// Both fit on a alone and would queue there: fine.
		{"jobs share a host when only it has the memory",
			[]placement.Job{{"x", 2, 6 * gib}, {"y", 2, 6 * gib}},
			[]placement.Host{{Name: "a", Cores: 2, MemoryMiB: 12 * gib}, {Name: "b", Cores: 8, MemoryMiB: 4 * gib}},
			map[string]string{"x": "a", "y": "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := placement.Place(tc.jobs, tc.hosts)
			if err != nil {
				t.Fatal(err)
			}
			if got := placed(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("placed %v, want %v; plan:\n%s", got, tc.want, p)
			}
		})
	}
}

func TestPlaceSaysWhatToDoWithAJobTooBigForAll(t *testing.T) {
	_, err := placement.Place(
		[]placement.Job{{"small", 1, 1 * gib}, {"huge", 2, 20 * gib}},
		[]placement.Host{{Name: "qemu+ssh://h1/system", Cores: 4, MemoryMiB: 8 * gib}, {Name: "qemu+ssh://h2/system", Cores: 4, MemoryMiB: 12 * gib}})
	if err == nil {
		t.Fatal("Place of a 20 GiB job on hosts with 8 and 12 GiB free succeeded")
	}
	for _, want := range []string{"job huge needs 20480 MiB", "qemu+ssh://h1/system 8192 MiB", "qemu+ssh://h2/system 12288 MiB", "E2E_MAX_MEMORY_MIB", "add a host", "free memory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// Memory that bigger jobs took is counted, and the error says so.
func TestPlaceCountsWhatEarlierJobsTook(t *testing.T) {
	_, err := placement.Place(
		[]placement.Job{{"first", 1, 6 * gib}, {"second", 1, 5 * gib}},
		[]placement.Host{{Name: "a", Cores: 4, MemoryMiB: 10 * gib}})
	if err == nil || !strings.Contains(err.Error(), "job second needs 5120 MiB") || !strings.Contains(err.Error(), "a 4096 MiB (of 10240 free") {
		t.Errorf("Place = %v, want second refused with what first left", err)
	}
}

// The same jobs and hosts in any order give the same plan.
func TestPlaceIsDeterministic(t *testing.T) {
	jobs := []placement.Job{{"a", 2, 4 * gib}, {"b", 2, 4 * gib}, {"c", 2, 4 * gib}, {"d", 1, 2 * gib}, {"e", 4, 4 * gib}}
	hosts := []placement.Host{{Name: "x", Cores: 4, MemoryMiB: 16 * gib}, {Name: "y", Cores: 4, MemoryMiB: 16 * gib}, {Name: "z", Cores: 4, MemoryMiB: 16 * gib}}
	first, err := placement.Place(jobs, hosts)
	if err != nil {
		t.Fatal(err)
	}
	for i, js := range permutations(jobs) {
		hs := permutations(hosts)[i%6]
		p, err := placement.Place(js, hs)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Assignments, first.Assignments) || p.String() != first.String() {
			t.Fatalf("jobs %v on hosts %v:\n%s\nwant, as for the first order:\n%s", names(js), hs, p, first)
		}
	}
}

func TestPlaceOfNothing(t *testing.T) {
	p, err := placement.Place(nil, []placement.Host{{Name: "a", Cores: 1, MemoryMiB: 1}})
	if err != nil || len(p.Assignments) != 0 || p.String() != "" {
		t.Errorf("Place of no jobs = %+v, %v; want an empty plan", p, err)
	}
	_, err = placement.Place([]placement.Job{{"lb", 1, 1}}, nil)
	if err == nil || !strings.Contains(err.Error(), "no host") || !strings.Contains(err.Error(), "E2E_HOSTS") {
		t.Errorf("Place on no hosts = %v, want an error saying there is no host", err)
	}
}

func TestPlaceRefusesWhatItCannotRank(t *testing.T) {
	for _, tc := range []struct {
		name  string
		jobs  []placement.Job
		hosts []placement.Host
		want  string
	}{
		{"host twice", []placement.Job{{"j", 1, 1}}, []placement.Host{{Name: "a", Cores: 1, MemoryMiB: 9}, {Name: "a", Cores: 1, MemoryMiB: 9}}, "host a is given twice"},
		{"no cores", []placement.Job{{"j", 1, 1}}, []placement.Host{{Name: "a", MemoryMiB: 9}}, "host a reports 0 cores"},
		{"job twice", []placement.Job{{"j", 1, 1}, {"j", 1, 1}}, []placement.Host{{Name: "a", Cores: 1, MemoryMiB: 9}}, "job j is given twice"},
		{"unnamed", []placement.Job{{"", 1, 1}}, []placement.Host{{Name: "a", Cores: 1, MemoryMiB: 9}}, "a job has no name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := placement.Place(tc.jobs, tc.hosts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Place = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPlanAnswersAndPrints(t *testing.T) {
	p, err := placement.Place(
		[]placement.Job{{"loadbalancer", 6, 5 * gib}, {"cloudconfig", 2, 2 * gib}, {"tiny", 1, 512}},
		[]placement.Host{{Name: "10.251.1.3", Cores: 2, MemoryMiB: 8 * gib}, {Name: "10.251.1.2", Cores: 4, MemoryMiB: 16 * gib}})
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := p.Host("loadbalancer"); !ok || h != "10.251.1.2" {
		t.Errorf("Host(loadbalancer) = %q, %v", h, ok)
	}
	if _, ok := p.Host("nosuch"); ok {
		t.Error("Host(nosuch) found a host")
	}
	if got := fmt.Sprint(p.Jobs("10.251.1.3")); got != "[{cloudconfig 2 2048} {tiny 1 512}]" {
		t.Errorf("Jobs(10.251.1.3) = %s", got)
	}
	want := "" +
		"loadbalancer 6 vCPUs 5120 MiB -> 10.251.1.2 (4 cores, 16384 MiB free) lowest load with it 6 vCPUs on 4 cores, 11264 MiB left; its 6 vCPUs exceed the 4 the host boots at once: admission boots them in turn\n" +
		"cloudconfig  2 vCPUs 2048 MiB -> 10.251.1.3 (2 cores, 8192 MiB free)  lowest load with it 2 vCPUs on 2 cores, 6144 MiB left\n" +
		"tiny         1 vCPUs 512 MiB  -> 10.251.1.3 (2 cores, 8192 MiB free)  lowest load with it 3 vCPUs on 2 cores, 5632 MiB left\n"
	if p.String() != want {
		t.Errorf("String():\n%s\nwant:\n%s", p, want)
	}
}

func names(jobs []placement.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.Name)
	}
	return out
}

// permutations are every order of s.
func permutations[T any](s []T) [][]T {
	if len(s) <= 1 {
		return [][]T{append([]T(nil), s...)}
	}
	var out [][]T
	for i := range s {
		rest := append(append([]T(nil), s[:i]...), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]T{s[i]}, p...))
		}
	}
	return out
}
