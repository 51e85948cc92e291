// Package placement spreads a run's jobs (scenarios, or shards) across
// several libvirt hosts by each host's free capacity (E2E_HOSTS).
//
// The policy, and why:
//
//   - Deterministic: the same jobs and hosts, in any order, give the same
//     plan, so that a failure reproduces on the same host and two legs of CI
//     agree on who runs what.
//   - The biggest jobs first (memory, then vCPUs, then name): memory is the
//     one thing a host cannot overcommit, so the jobs hardest to fit choose
//     first, while every host still has room.
//   - Each job goes to a host whose free memory holds it (what earlier jobs
//     took counted), and among those to the one whose load, vCPUs placed
//     divided by cores, is lowest once the job is added: cores are what set
//     how fast guests boot and checks run, and load is what makes hosts of
//     different sizes comparable. Ties go to the host with the most free
//     memory left, then to the first name.
//   - Cores never refuse a job: a job with more vCPUs than any host has
//     cores still places, since the host's admission serialises boots
//     (Host.BootingVCPUs); several jobs on one host queue through it too.
//     Memory does refuse: a job that fits no host is an error that says
//     what each host has free and what to do.
package placement

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
)

// Host is a host's capacity as its libvirtd reports it (virNodeGetInfo
// cores, virNodeGetFreeMemory), less what runs already holding it claim.
type Host struct {
	Name      string
	Cores     int
	MemoryMiB int // free
	// BootingVCPUs is the host's admission budget for vCPUs booting at
	// once; 0 means Cores. Place does not rank by it: it says how a host's
	// queue drains, not how much the host holds.
	BootingVCPUs int
}

// Job is what a scenario (or shard) needs: its guests' vCPUs and memory
// after the run's caps.
type Job struct {
	Name             string
	VCPUs, MemoryMiB int
}

// Plan maps each job to a host, with the reasoning for the report.
type Plan struct {
	Assignments []Assignment
	// hosts are the hosts as given to Place, sorted by name, for String.
	hosts []Host
}

// Assignment is one job's host, and why that one.
type Assignment struct {
	Job  Job
	Host string
	Why  string
}

// Host is the host job was placed on; false when the plan has no such job.
func (p Plan) Host(job string) (string, bool) {
	for _, a := range p.Assignments {
		if a.Job.Name == job {
			return a.Host, true
		}
	}
	return "", false
}

// Jobs are the jobs placed on host, in placement order (biggest first).
func (p Plan) Jobs(host string) []Job {
	var out []Job
	for _, a := range p.Assignments {
		if a.Host == host {
			out = append(out, a.Job)
		}
	}
	return out
}

// String is the plan as a table for the report, a line per job in
// placement order: job, vCPUs, MiB -> host (cores, free MiB before any
// job), and why.
func (p Plan) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	for _, a := range p.Assignments {
		host := a.Host
		if i := slices.IndexFunc(p.hosts, func(h Host) bool { return h.Name == a.Host }); i >= 0 {
			host = fmt.Sprintf("%s (%d cores, %d MiB free)", a.Host, p.hosts[i].Cores, p.hosts[i].MemoryMiB)
		}
		fmt.Fprintf(w, "%s\t%d vCPUs\t%d MiB\t-> %s\t%s\n", a.Job.Name, a.Job.VCPUs, a.Job.MemoryMiB, host, a.Why)
	}
	w.Flush()
	return b.String()
}

// Place assigns every job to a host, by the package's policy. No jobs is
// an empty plan; no hosts, a host that is unnamed, named twice or has no
// cores, a job named twice, or a job no host has the memory for is an error.
func Place(jobs []Job, hosts []Host) (Plan, error) {
	if len(jobs) == 0 {
		return Plan{}, nil
	}
	if len(hosts) == 0 {
		return Plan{}, fmt.Errorf("placement: %d job(s) and no host to run them on: set E2E_HOSTS to libvirt URIs, or leave it unset for this machine's libvirtd", len(jobs))
	}
	if err := check(jobs, hosts); err != nil {
		return Plan{}, err
	}
	hosts = slices.Clone(hosts)
	slices.SortFunc(hosts, func(a, b Host) int { return strings.Compare(a.Name, b.Name) })
	jobs = slices.Clone(jobs)
	slices.SortFunc(jobs, func(a, b Job) int {
		return cmp.Or(cmp.Compare(b.MemoryMiB, a.MemoryMiB), cmp.Compare(b.VCPUs, a.VCPUs), strings.Compare(a.Name, b.Name))
	})

	// What the jobs placed so far take of each host, by index in hosts.
	vcpus := make([]int, len(hosts))
	free := make([]int, len(hosts))
	for i, h := range hosts {
		free[i] = h.MemoryMiB
	}
	plan := Plan{hosts: hosts}
	for _, j := range jobs {
		best := -1
		for i, h := range hosts {
			if free[i] < j.MemoryMiB {
				continue
			}
			if best < 0 || better(j, h, vcpus[i], free[i], hosts[best], vcpus[best], free[best]) {
				best = i
			}
		}
		if best < 0 {
			return Plan{}, tooBig(j, hosts, free)
		}
		h := hosts[best]
		vcpus[best] += j.VCPUs
		free[best] -= j.MemoryMiB
		plan.Assignments = append(plan.Assignments, Assignment{Job: j, Host: h.Name, Why: why(j, h, vcpus[best], free[best], len(hosts))})
	}
	return plan, nil
}

// better says whether host a (with vcpusA placed and freeA MiB left) suits
// job j better than host b: the lower load after adding j, then the more
// memory left, then the first name. Loads compare as fractions, cross
// multiplied, so that no rounding decides.
func better(j Job, a Host, vcpusA, freeA int, b Host, vcpusB, freeB int) bool {
	loadA, loadB := (vcpusA+j.VCPUs)*b.Cores, (vcpusB+j.VCPUs)*a.Cores
	if loadA != loadB {
		return loadA < loadB
	}
	if freeA != freeB {
		return freeA > freeB
	}
	return a.Name < b.Name
}

// why is the reasoning of one assignment, for the report.
func why(j Job, h Host, vcpus, free, hosts int) string {
	s := fmt.Sprintf("load with it %d vCPUs on %d cores, %d MiB left", vcpus, h.Cores, free)
	if hosts > 1 {
		s = "lowest " + s
	}
	if booting := cmp.Or(h.BootingVCPUs, h.Cores); j.VCPUs > booting {
		s += fmt.Sprintf("; its %d vCPUs exceed the %d the host boots at once: admission boots them in turn", j.VCPUs, booting)
	}
	return s
}

// tooBig is the error of a job that fits no host's memory.
func tooBig(j Job, hosts []Host, free []int) error {
	var have []string
	for i, h := range hosts {
		s := fmt.Sprintf("%s %d MiB", h.Name, free[i])
		if free[i] != h.MemoryMiB {
			s += fmt.Sprintf(" (of %d free, the rest given to bigger jobs)", h.MemoryMiB)
		}
		have = append(have, s)
	}
	return fmt.Errorf("placement: job %s needs %d MiB and no host has that free: %s; "+
		"free memory on a host, cap the guests with E2E_MAX_MEMORY_MIB, or add a host to E2E_HOSTS",
		j.Name, j.MemoryMiB, strings.Join(have, ", "))
}

// check refuses what Place cannot place sensibly: it would otherwise pick
// a host by a meaningless load, or answer Plan.Host ambiguously.
func check(jobs []Job, hosts []Host) error {
	var errs []error
	seen := map[string]bool{}
	for _, h := range hosts {
		switch {
		case h.Name == "":
			errs = append(errs, errors.New("placement: a host has no name"))
		case seen[h.Name]:
			errs = append(errs, fmt.Errorf("placement: host %s is given twice", h.Name))
		case h.Cores <= 0:
			errs = append(errs, fmt.Errorf("placement: host %s reports %d cores; its libvirtd's node info is wrong or unread", h.Name, h.Cores))
		}
		seen[h.Name] = true
	}
	seen = map[string]bool{}
	for _, j := range jobs {
		switch {
		case j.Name == "":
			errs = append(errs, errors.New("placement: a job has no name"))
		case seen[j.Name]:
			errs = append(errs, fmt.Errorf("placement: job %s is given twice", j.Name))
		case j.VCPUs < 0 || j.MemoryMiB < 0:
			errs = append(errs, fmt.Errorf("placement: job %s needs %d vCPUs and %d MiB: a need is never negative", j.Name, j.VCPUs, j.MemoryMiB))
		}
		seen[j.Name] = true
	}
	return errors.Join(errs...)
}
