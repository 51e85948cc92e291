package render

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
)

// Layout is how a drive lays its files out: which folders carry
// meta_data.json, user_data and the rest (flavor.yaml layout). What each
// holds, and where the rules come from: docs/drive-layouts.md.
type Layout string

const (
	// LayoutLatest is the seed's engine's: openstack/latest/ and
	// openstack/content/ only. The default.
	LayoutLatest Layout = "latest"
	// LayoutNova is Nova's: a folder per OpenStack metadata version and
	// latest, each with the files of its version, ec2/2009-04-04/ and
	// ec2/latest/, and the shared openstack/content/.
	LayoutNova Layout = "nova"
)

// VendorData2Path is latest's vendor_data2.json, which only the nova layout has.
const VendorData2Path = "openstack/latest/vendor_data2.json"

// NovaVersions are the metadata versions Nova writes a folder for, oldest
// first: all of its OPENSTACK_VERSIONS, because Nova writes every one
// whatever reads the drive. cloud-init reads the newest folder it knows
// before latest (22.4.2 knows up to 2018-08-27), so stopping at the newest
// it knows would give a newer cloud-init a drive no cloud gives it.
var NovaVersions = []string{
	"2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30",
	"2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14", "2025-04-04",
}

// novaSince is the version from which Nova writes a file into a version's
// folder, or a key into its meta_data.json; anything not named is in every
// version (meta_data.json, user_data, and meta_data's uuid, files, keys,
// hostname, name, launch_index, availability_zone).
var novaSince = map[string]string{
	"vendor_data.json":  "2013-10-17",
	"network_data.json": "2015-10-15",
	"vendor_data2.json": "2016-10-06",
	"random_seed":       "2013-04-04",
	"project_id":        "2015-10-15",
	"devices":           "2016-06-30",
	"dedicated_cpus":    "2020-10-14",
}

// NovaWrites reports whether Nova writes name (a file of a version's
// folder, or a meta_data.json key) for version ("latest" has everything).
// Versions are dates, so they compare as strings.
func NovaWrites(version, name string) bool {
	since, ok := novaSince[name]
	return !ok || version == "latest" || version >= since
}

// VersionPath is the drive path of a file in a version's folder:
// openstack/<version>/<name>.
func VersionPath(version, name string) string {
	return path.Join("openstack", version, name)
}

// Files lists every file of the drive: openstack/latest/'s metadata first,
// then the other folders of its layout (LayoutFiles), then the contents in
// order.
func (d Drive) Files() []File {
	fs := []File{
		{Path: MetaDataPath, Data: d.MetaData},
		{Path: UserDataPath, Data: d.UserData},
		{Path: VendorDataPath, Data: d.VendorData},
	}
	if d.NetworkData != nil {
		fs = append(fs, File{Path: NetworkDataPath, Data: d.NetworkData})
	}
	fs = append(fs, d.LayoutFiles...)
	for _, c := range d.Content {
		fs = append(fs, File{Path: ContentFile(c.ContentPath), Data: c.Data, Source: c.Source})
	}
	return fs
}

// ContentFile is the drive path of a meta_data content_path:
// "/content/0000" is openstack/content/0000, as cloud-init reads it.
func ContentFile(contentPath string) string {
	return path.Join("openstack", path.Clean("/"+contentPath))
}

// Harness-chosen stand-ins for what Nova takes from its database.
const (
	// novaAvailabilityZone is Nova's default availability zone.
	novaAvailabilityZone = "nova"
	// novaKeyName names the harness's key pair in public_keys and keys.
	novaKeyName = "drivelab"
	// novaImageID is ec2's ami-id: one image for every node.
	novaImageID = "ami-00000001"
	// novaRootDevice is the lab's root disk, the block-device-mapping Nova
	// gives an instance booted from an image with neither ephemeral disk nor swap.
	novaRootDevice = "/dev/vda"
)

// novaProjectID stands in for the Keystone project id (32 hex digits) every
// node of a run belongs to: fixed, derived from the harness's name, so
// drives are reproducible.
var novaProjectID = func() string {
	sum := sha256.Sum256([]byte("drivelab project"))
	return hex.EncodeToString(sum[:16])
}()

// novaRandomSeed stands in for Nova's random_seed, 512 bytes of os.urandom
// in base64: SHA-512 of the node's uuid and a counter, eight blocks, so a
// drive and its golden listing come out the same on every rendering. Nova
// draws a fresh seed for every file it writes; one per drive keeps the
// folders comparable, so lint can refuse folders that disagree.
func novaRandomSeed(uuid string) string {
	var seed []byte
	for i := 0; len(seed) < 512; i++ {
		sum := sha512.Sum512([]byte("drivelab random_seed " + uuid + " " + strconv.Itoa(i)))
		seed = append(seed, sum[:]...)
	}
	return base64.StdEncoding.EncodeToString(seed[:512])
}

// novaMetaData is a version's meta_data.json in Nova's key order. Nova
// leaves meta out when the instance has no metadata, as here.
type novaMetaData struct {
	UUID             string            `json:"uuid"`
	Files            []MetaFile        `json:"files,omitempty"`
	PublicKeys       map[string]string `json:"public_keys,omitempty"`
	Keys             []novaKey         `json:"keys,omitempty"`
	Hostname         string            `json:"hostname"`
	Name             string            `json:"name"`
	LaunchIndex      int               `json:"launch_index"`
	AvailabilityZone string            `json:"availability_zone"`
	RandomSeed       string            `json:"random_seed,omitempty"`
	ProjectID        string            `json:"project_id,omitempty"`
	// Pointers: Nova writes [] for an instance without tagged devices or
	// pinned CPUs, and nothing in versions before the key's.
	Devices       *[]any `json:"devices,omitempty"`
	DedicatedCPUs *[]int `json:"dedicated_cpus,omitempty"`
}

type novaKey struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Data string `json:"data"`
}

// ec2MetaData is ec2/<version>/meta-data.json as Nova writes it for
// 2009-04-04 (and latest, the same), in its key order.
type ec2MetaData struct {
	AMIID              string                       `json:"ami-id"`
	AMILaunchIndex     int                          `json:"ami-launch-index"`
	AMIManifestPath    string                       `json:"ami-manifest-path"`
	InstanceID         string                       `json:"instance-id"`
	Hostname           string                       `json:"hostname"`
	LocalIPv4          string                       `json:"local-ipv4"`
	ReservationID      string                       `json:"reservation-id"`
	SecurityGroups     []string                     `json:"security-groups"`
	PublicKeys         map[string]map[string]string `json:"public-keys,omitempty"`
	LocalHostname      string                       `json:"local-hostname"`
	PublicHostname     string                       `json:"public-hostname"`
	PublicIPv4         string                       `json:"public-ipv4"`
	InstanceType       string                       `json:"instance-type"`
	BlockDeviceMapping map[string]string            `json:"block-device-mapping"`
	Placement          map[string]string            `json:"placement"`
	InstanceAction     string                       `json:"instance-action"`
}

// ec2Versions are the ec2 folders Nova writes by default
// (config_drive_skip_versions skips every older one).
var ec2Versions = []string{"2009-04-04", "latest"}

// novaLayout gives d Nova's layout: meta_data.json for latest and every
// version, the dated folders' and ec2/'s files (LayoutFiles), with
// d.UserData, d.VendorData and d.NetworkData already rendered. The harness
// writes meta_data.json; a flavor's meta_data.json.tmpl is refused, as one
// template could not say what each version carries.
func (r *renderer) novaLayout(d *Drive, files []MetaFile) error {
	n := d.Node
	if file, ok := r.lookup(n.Name, MetaDataTemplate); ok {
		return &Error{Node: n.Name, File: file, Err: fmt.Errorf("flavor %s has layout: nova, whose meta_data.json the harness writes for every metadata version as Nova does (docs/drive-layouts.md); remove %s, or render with a flavor of layout: latest", r.flavor.Name, MetaDataTemplate)}
	}
	d.Layout = LayoutNova
	key := ""
	if a := r.in.Access; a != nil && len(a.AuthorizedKeys) > 0 {
		key = a.AuthorizedKeys[0]
	}
	seed := novaRandomSeed(n.UUID)
	metaData := func(version string) ([]byte, error) {
		m := novaMetaData{UUID: n.UUID, Files: files, Hostname: n.FQDN, Name: n.InstanceName, AvailabilityZone: novaAvailabilityZone}
		if key != "" {
			m.PublicKeys = map[string]string{novaKeyName: key}
			m.Keys = []novaKey{{Name: novaKeyName, Type: "ssh", Data: key}}
		}
		if NovaWrites(version, "random_seed") {
			m.RandomSeed = seed
		}
		if NovaWrites(version, "project_id") {
			m.ProjectID = novaProjectID
		}
		if NovaWrites(version, "devices") {
			m.Devices = &[]any{}
		}
		if NovaWrites(version, "dedicated_cpus") {
			m.DedicatedCPUs = &[]int{}
		}
		return indentJSON(m)
	}
	var err error
	if d.MetaData, err = metaData("latest"); err != nil {
		return fmt.Errorf("node %s: %s: %w", n.Name, MetaDataPath, err)
	}
	vendorData2, err := indentJSON(map[string]json.RawMessage{"static": d.VendorData})
	if err != nil {
		return fmt.Errorf("node %s: %s: %w", n.Name, VendorData2Path, err)
	}
	// What the harness's vendor_data.json is to Nova: the StaticJSON
	// provider's file, which Nova's default configuration copies into
	// vendor_data2.json under "static" (cloud-init takes no cloud-config
	// from that key).
	add := func(p string, data []byte, from string) {
		d.LayoutFiles = append(d.LayoutFiles, File{Path: p, Data: data})
		if t, ok := d.Templates[from]; ok {
			d.Templates[p] = t
		}
	}
	instanceID, reservationID := ec2IDs(n.UUID)
	ec2, err := indentJSON(ec2MetaData{
		AMIID: novaImageID, AMILaunchIndex: 0, AMIManifestPath: "FIXME",
		InstanceID: instanceID, ReservationID: reservationID,
		Hostname: n.FQDN, LocalIPv4: n.IP.String(), SecurityGroups: []string{"default"},
		PublicKeys:    ec2PublicKeys(key),
		LocalHostname: n.FQDN, PublicHostname: n.FQDN, PublicIPv4: "",
		InstanceType:       fmt.Sprintf("drivelab.%dvcpu.%dmib", n.VCPUs, n.MemoryMiB),
		BlockDeviceMapping: map[string]string{"ami": path.Base(novaRootDevice), "root": novaRootDevice},
		Placement:          map[string]string{"availability-zone": novaAvailabilityZone},
		InstanceAction:     "none",
	})
	if err != nil {
		return fmt.Errorf("node %s: ec2 meta-data.json: %w", n.Name, err)
	}
	// Nova writes user_data only when the instance has some.
	userData := d.UserData != nil
	for _, v := range ec2Versions {
		if userData {
			add(path.Join("ec2", v, "user-data"), d.UserData, UserDataPath)
		}
		add(path.Join("ec2", v, "meta-data.json"), ec2, "")
	}
	for _, v := range NovaVersions {
		md, err := metaData(v)
		if err != nil {
			return fmt.Errorf("node %s: %s: %w", n.Name, VersionPath(v, "meta_data.json"), err)
		}
		add(VersionPath(v, "meta_data.json"), md, "")
		if userData {
			add(VersionPath(v, "user_data"), d.UserData, UserDataPath)
		}
		if NovaWrites(v, "vendor_data.json") {
			add(VersionPath(v, "vendor_data.json"), d.VendorData, VendorDataPath)
		}
		// A flavor without network_data gets none in any folder, as in
		// openstack/latest/: Nova's {} would tell cloud-init there is no network.
		if NovaWrites(v, "network_data.json") && d.NetworkData != nil {
			add(VersionPath(v, "network_data.json"), d.NetworkData, NetworkDataPath)
		}
		if NovaWrites(v, "vendor_data2.json") {
			add(VersionPath(v, "vendor_data2.json"), vendorData2, "")
		}
	}
	add(VendorData2Path, vendorData2, "")
	return nil
}

// ec2IDs stand in for Nova's ec2 instance and reservation ids, numbers of
// database rows in eight hex digits: a digest of the uuid.
func ec2IDs(uuid string) (instance, reservation string) {
	sum := sha256.Sum256([]byte("drivelab ec2 " + uuid))
	return "i-" + hex.EncodeToString(sum[:4]), "r-" + hex.EncodeToString(sum[4:8])
}

// novaFromUUID are the values the nova layout derives from a node's uuid,
// which a new uuid replaces (Drive.withUUID): the drive is then the one
// rendering with the new uuid gives, so a kept lab sees no change in it.
func novaFromUUID(uuid string) []string {
	instance, reservation := ec2IDs(uuid)
	return []string{novaRandomSeed(uuid), instance, reservation}
}

// ec2PublicKeys is ec2's public-keys as Nova's config drive writes it: the
// key under "0", without the "_name" only its metadata service shows.
func ec2PublicKeys(key string) map[string]map[string]string {
	if key == "" {
		return nil
	}
	return map[string]map[string]string{"0": {"openssh-key": key}}
}

// indentJSON is v as the harness writes its JSON files: four spaces, a
// final newline. Nova writes it on one line; indented, a golden listing
// shows a change as one line.
func indentJSON(v any) ([]byte, error) {
	out, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
