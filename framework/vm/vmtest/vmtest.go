// Package vmtest is an in-memory libvirt for unit tests of the harness's
// lifecycle: domains with states and the harness's metadata, one storage
// pool's volumes, and failures injected by name. It boots nothing; the
// end-to-end path always talks to the real libvirtd.
package vmtest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	libvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/drivelab/drivelab/framework/vm"
)

// Libvirt is the fake. Its zero value is not usable: call New.
type Libvirt struct {
	mu      sync.Mutex
	domains map[string]*domain
	pools   map[string]*pool
	calls   []string
	// FailDefine and FailCreate make DomainDefineXML and DomainCreate of
	// the named domains fail with the error.
	FailDefine, FailCreate map[string]error
}

type domain struct {
	xml      string
	metadata string
	state    libvirt.DomainState
}

type pool struct {
	dir    string
	active bool
	vols   map[string]bool
}

var _ vm.Libvirt = (*Libvirt)(nil)

// New returns an empty libvirt: no domain, no pool.
func New() *Libvirt {
	return &Libvirt{domains: map[string]*domain{}, pools: map[string]*pool{}, FailDefine: map[string]error{}, FailCreate: map[string]error{}}
}

// Calls are the calls that changed something, in order ("DomainDefineXML dl-r1-web01").
func (f *Libvirt) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Domains are the defined domains' names, sorted.
func (f *Libvirt) Domains() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sortedKeys(f.domains)
}

// Volumes are the volumes of every pool, sorted.
func (f *Libvirt) Volumes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.pools {
		out = append(out, sortedKeys(p.vols)...)
	}
	slices.Sort(out)
	return out
}

// SetState sets a domain's state, as a guest that shut down would.
func (f *Libvirt) SetState(name string, st libvirt.DomainState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.domains[name].state = st
}

// AddVolume puts a volume into the harness's pool, creating the pool.
func (f *Libvirt) AddVolume(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pools[vm.PoolName]
	if p == nil {
		p = &pool{dir: "/pool", active: true, vols: map[string]bool{}}
		f.pools[vm.PoolName] = p
	}
	p.vols[name] = true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func notFound(code libvirt.ErrorNumber, what string) error {
	return libvirt.Error{Code: uint32(code), Message: what + " not found"}
}

func (f *Libvirt) record(call, name string) { f.calls = append(f.calls, call+" "+name) }

func (f *Libvirt) ConnectGetCapabilities() (string, error) { return "<capabilities/>", nil }
func (f *Libvirt) ConnectGetLibVersion() (uint64, error)   { return 9_000_000, nil }
func (f *Libvirt) ConnectGetVersion() (uint64, error)      { return 7_002_000, nil }
func (f *Libvirt) IsConnected() bool                       { return true }
func (f *Libvirt) ConnectToURI(libvirt.ConnectURI) error   { return nil }
func (f *Libvirt) Disconnect() error                       { return nil }

func (f *Libvirt) ConnectListAllDomains(int32, libvirt.ConnectListAllDomainsFlags) ([]libvirt.Domain, uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []libvirt.Domain
	for _, name := range sortedKeys(f.domains) {
		out = append(out, libvirt.Domain{Name: name})
	}
	return out, uint32(len(out)), nil
}

func (f *Libvirt) DomainDefineXML(x string) (libvirt.Domain, error) {
	var d libvirtxml.Domain
	if err := d.Unmarshal(x); err != nil {
		return libvirt.Domain{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.FailDefine[d.Name]; err != nil {
		return libvirt.Domain{}, err
	}
	f.record("DomainDefineXML", d.Name)
	dom := &domain{xml: x, state: libvirt.DomainShutoff}
	if d.Metadata != nil {
		dom.metadata = d.Metadata.XML
	}
	f.domains[d.Name] = dom
	return libvirt.Domain{Name: d.Name}, nil
}

func (f *Libvirt) lookup(dom libvirt.Domain) (*domain, error) {
	d := f.domains[dom.Name]
	if d == nil {
		return nil, notFound(libvirt.ErrNoDomain, "domain "+dom.Name)
	}
	return d, nil
}

func (f *Libvirt) DomainCreate(dom libvirt.Domain) error {
	return f.transition(dom.Name, "DomainCreate", f.FailCreate, libvirt.DomainRunning)
}

// transition records call on the domain named name and puts it in state to,
// unless fail holds an error for that name.
func (f *Libvirt) transition(name, call string, fail map[string]error, to libvirt.DomainState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.lookup(libvirt.Domain{Name: name})
	if err != nil {
		return err
	}
	if err := fail[name]; err != nil {
		return err
	}
	f.record(call, name)
	d.state = to
	return nil
}

func (f *Libvirt) DomainLookupByName(name string) (libvirt.Domain, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.lookup(libvirt.Domain{Name: name})
	return libvirt.Domain{Name: name}, err
}

func (f *Libvirt) DomainGetState(dom libvirt.Domain, _ uint32) (int32, int32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.lookup(dom)
	if err != nil {
		return 0, 0, err
	}
	return int32(d.state), 0, nil
}

func (f *Libvirt) DomainGetInfo(dom libvirt.Domain) (uint8, uint64, uint64, uint16, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.lookup(dom)
	if err != nil {
		return 0, 0, 0, 0, 0, err
	}
	return uint8(d.state), 0, 0, 1, 0, nil
}

// DomainGetMetadata returns the domain's <metadata> element, as libvirt
// returns the harness's element.
func (f *Libvirt) DomainGetMetadata(dom libvirt.Domain, _ int32, _ libvirt.OptString, _ libvirt.DomainModificationImpact) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.lookup(dom)
	if err != nil {
		return "", err
	}
	if d.metadata == "" {
		return "", libvirt.Error{Code: uint32(libvirt.ErrNoDomainMetadata), Message: "no metadata"}
	}
	return d.metadata, nil
}

func (f *Libvirt) DomainDestroy(dom libvirt.Domain) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.lookup(dom)
	if err != nil {
		return err
	}
	if d.state != libvirt.DomainRunning {
		return libvirt.Error{Code: uint32(libvirt.ErrOperationInvalid), Message: "domain is not running"}
	}
	f.record("DomainDestroy", dom.Name)
	d.state = libvirt.DomainShutoff
	return nil
}

func (f *Libvirt) DomainUndefineFlags(dom libvirt.Domain, _ libvirt.DomainUndefineFlagsValues) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(dom); err != nil {
		return err
	}
	f.record("DomainUndefineFlags", dom.Name)
	delete(f.domains, dom.Name)
	return nil
}

// DomainSaveFlags stops the domain, as libvirt's save does; the file is not written.
func (f *Libvirt) DomainSaveFlags(dom libvirt.Domain, _ string, _ libvirt.OptString, _ uint32) error {
	return f.transition(dom.Name, "DomainSaveFlags", nil, libvirt.DomainShutoff)
}

// DomainRestoreFlags restores the defined domain the save image's header
// names, paused as the harness asks.
func (f *Libvirt) DomainRestoreFlags(from string, _ libvirt.OptString, _ uint32) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	_, rest, _ := strings.Cut(string(b), "<name>")
	name, _, _ := strings.Cut(rest, "</name>")
	return f.transition(name, "DomainRestoreFlags", f.FailCreate, libvirt.DomainPaused)
}

func (f *Libvirt) DomainAttachDeviceFlags(dom libvirt.Domain, _ string, _ uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(dom); err != nil {
		return err
	}
	f.record("DomainAttachDeviceFlags", dom.Name)
	return nil
}

func (f *Libvirt) DomainUpdateDeviceFlags(dom libvirt.Domain, _ string, _ libvirt.DomainDeviceModifyFlags) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(dom); err != nil {
		return err
	}
	f.record("DomainUpdateDeviceFlags", dom.Name)
	return nil
}

// DomainGetXMLDesc is the XML the domain was defined with.
func (f *Libvirt) DomainGetXMLDesc(dom libvirt.Domain, _ libvirt.DomainXMLFlags) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.lookup(dom)
	if err != nil {
		return "", err
	}
	return d.xml, nil
}

func (f *Libvirt) DomainResume(dom libvirt.Domain) error {
	return f.transition(dom.Name, "DomainResume", nil, libvirt.DomainRunning)
}

func (f *Libvirt) pool(p libvirt.StoragePool) (*pool, error) {
	if x := f.pools[p.Name]; x != nil {
		return x, nil
	}
	return nil, notFound(libvirt.ErrNoStoragePool, "pool "+p.Name)
}

func (f *Libvirt) StoragePoolLookupByName(name string) (libvirt.StoragePool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.pool(libvirt.StoragePool{Name: name})
	return libvirt.StoragePool{Name: name}, err
}

func (f *Libvirt) StoragePoolDefineXML(x string, _ uint32) (libvirt.StoragePool, error) {
	var def libvirtxml.StoragePool
	if err := def.Unmarshal(x); err != nil {
		return libvirt.StoragePool{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pools[def.Name] = &pool{dir: def.Target.Path, vols: map[string]bool{}}
	return libvirt.StoragePool{Name: def.Name}, nil
}

func (f *Libvirt) StoragePoolBuild(libvirt.StoragePool, libvirt.StoragePoolBuildFlags) error {
	return nil
}

func (f *Libvirt) StoragePoolIsActive(p libvirt.StoragePool) (int32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, err := f.pool(p)
	if err != nil || !x.active {
		return 0, err
	}
	return 1, nil
}

func (f *Libvirt) StoragePoolCreate(p libvirt.StoragePool, _ libvirt.StoragePoolCreateFlags) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, err := f.pool(p)
	if err == nil {
		x.active = true
	}
	return err
}

func (f *Libvirt) StoragePoolSetAutostart(libvirt.StoragePool, int32) error { return nil }
func (f *Libvirt) StoragePoolRefresh(libvirt.StoragePool, uint32) error     { return nil }

func (f *Libvirt) StoragePoolListAllVolumes(p libvirt.StoragePool, _ int32, _ uint32) ([]libvirt.StorageVol, uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, err := f.pool(p)
	if err != nil {
		return nil, 0, err
	}
	var out []libvirt.StorageVol
	for _, name := range sortedKeys(x.vols) {
		out = append(out, libvirt.StorageVol{Pool: p.Name, Name: name})
	}
	return out, uint32(len(out)), nil
}

func (f *Libvirt) StorageVolCreateXML(p libvirt.StoragePool, x string, _ libvirt.StorageVolCreateFlags) (libvirt.StorageVol, error) {
	var def libvirtxml.StorageVolume
	if err := def.Unmarshal(x); err != nil {
		return libvirt.StorageVol{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	px, err := f.pool(p)
	if err != nil {
		return libvirt.StorageVol{}, err
	}
	if px.vols[def.Name] {
		return libvirt.StorageVol{}, fmt.Errorf("volume %s exists", def.Name)
	}
	f.record("StorageVolCreateXML", def.Name)
	px.vols[def.Name] = true
	return libvirt.StorageVol{Pool: p.Name, Name: def.Name}, nil
}

func (f *Libvirt) StorageVolUpload(_ libvirt.StorageVol, r io.Reader, _, _ uint64, _ libvirt.StorageVolUploadFlags) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (f *Libvirt) StorageVolGetPath(v libvirt.StorageVol) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	px, err := f.pool(libvirt.StoragePool{Name: v.Pool})
	if err != nil {
		return "", err
	}
	return filepath.Join(px.dir, v.Name), nil
}

func (f *Libvirt) StorageVolLookupByName(p libvirt.StoragePool, name string) (libvirt.StorageVol, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	px, err := f.pool(p)
	if err != nil {
		return libvirt.StorageVol{}, err
	}
	if !px.vols[name] {
		return libvirt.StorageVol{}, notFound(libvirt.ErrNoStorageVol, "volume "+name)
	}
	return libvirt.StorageVol{Pool: p.Name, Name: name}, nil
}

func (f *Libvirt) StorageVolDelete(v libvirt.StorageVol, _ libvirt.StorageVolDeleteFlags) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	px, err := f.pool(libvirt.StoragePool{Name: v.Pool})
	if err != nil {
		return err
	}
	if !px.vols[v.Name] {
		return notFound(libvirt.ErrNoStorageVol, "volume "+v.Name)
	}
	f.record("StorageVolDelete", v.Name)
	delete(px.vols, v.Name)
	return nil
}
