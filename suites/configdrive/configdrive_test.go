package configdrive_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/golden"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/scenarios"
)

var _ = Describe("Config drives", Label(scenarios.LabelDrive), func() {
	for _, flavor := range []string{"centos7", "debian12", "debian12-nova"} {
		Describe("of flavor "+flavor, Ordered, func() {
			var (
				topo   *topology.Topology
				access *render.Access
				drives []render.Drive
				dir    string
			)
			iso := func(node string) string { return filepath.Join(dir, configdrive.ImageName(node)) }

			BeforeAll(func(ctx SpecContext) {
				var err error
				topo, err = topology.Load(topologyFile)
				Expect(err).NotTo(HaveOccurred())
				fl, err := render.LoadFlavor(templatesDir, flavor)
				Expect(err).NotTo(HaveOccurred())
				pkgs := GinkgoT().TempDir()
				Expect(golden.PlaceholderPackages(pkgs, fl, 64<<10)).To(Succeed())
				access, err = testAccess(topo)
				Expect(err).NotTo(HaveOccurred())
				rendered, err := render.Render(ctx, render.Input{Topology: topo, TemplatesDir: templatesDir, Flavor: flavor, PackageDir: pkgs, Access: access})
				Expect(err).NotTo(HaveOccurred())
				drives = rendered.Drives
				dir = GinkgoT().TempDir()
				_, err = configdrive.WriteAll(ctx, drives, dir)
				Expect(err).NotTo(HaveOccurred())
			})

			It("round-trips every file of every node's drive", func() {
				Expect(drives).To(HaveLen(len(topo.Nodes)))
				for _, d := range drives {
					Expect(roundTrip(iso(d.Node.Name), d)).To(Succeed(), "node %s", d.Node.Name)
				}
			})

			It("carries the volume label config-2 as blkid probes it", func(ctx SpecContext) {
				for _, d := range drives {
					label, fsType, err := blkidLabel(ctx, iso(d.Node.Name))
					Expect(err).NotTo(HaveOccurred())
					Expect(label).To(Equal("config-2"), "node %s", d.Node.Name)
					Expect(fsType).To(Equal("iso9660"), "node %s", d.Node.Name)
				}
			})

			It("carries every file under its name as a Linux guest reads it", func(ctx SpecContext) {
				for _, d := range drives {
					names, err := linuxNames(ctx, iso(d.Node.Name))
					Expect(err).NotTo(HaveOccurred())
					Expect(checkLinuxNames(names, d)).To(Succeed(), "node %s", d.Node.Name)
				}
			})

			It("fails the name check on names the writer changes", func(ctx SpecContext) {
				d := drives[0]
				files := map[string]string{}
				for _, f := range d.Files() {
					files[f.Path] = "x"
				}
				// A name with two dots and capitals: the writer makes it meta_data_v1.json.
				delete(files, render.MetaDataPath)
				files["openstack/latest/Meta_Data.v1.json"] = "{}"
				other := filepath.Join(GinkgoT().TempDir(), "renamed.iso")
				Expect(writeISO(other, "config-2", files)).To(Succeed())
				names, err := linuxNames(ctx, other)
				Expect(err).NotTo(HaveOccurred())
				Expect(names).To(ContainElement("openstack/latest/meta_data_v1.json"))
				err = checkLinuxNames(names, d)
				Expect(err).To(MatchError(ContainSubstring(render.MetaDataPath + ": Linux does not see it under that name")))
				Expect(err).To(MatchError(ContainSubstring("Linux sees openstack/latest/meta_data_v1.json")))
			})

			It("fails the round trip and the label check on the wrong image", func(ctx SpecContext) {
				Expect(roundTrip(iso("web01"), drives[3])).To(MatchError(ContainSubstring("openstack/latest/meta_data.json: read back")))
				other := filepath.Join(GinkgoT().TempDir(), "cidata.iso")
				Expect(writeISO(other, "cidata", map[string]string{"meta-data": "{}"})).To(Succeed())
				label, _, err := blkidLabel(ctx, other)
				Expect(err).NotTo(HaveOccurred())
				Expect(label).To(Equal("cidata"))
				Expect(roundTrip(other, drives[0])).To(MatchError(ContainSubstring(`label "cidata", want "config-2"`)))
			})

			It("is read by cloud-init's own config-drive reader as the topology says", func(ctx SpecContext) {
				for _, d := range drives {
					v, err := readWithCloudInit(ctx, iso(d.Node.Name), d.Node.MAC)
					Expect(err).NotTo(HaveOccurred())
					Expect(checkCloudInitView(v, d.Node, topo.Network, d, access)).To(Succeed(), "node %s", d.Node.Name)
				}
			})

			It("fails the cloud-init comparison for another node's drive", func(ctx SpecContext) {
				web01, web02 := drives[2], drives[3]
				v, err := readWithCloudInit(ctx, iso(web01.Node.Name), web01.Node.MAC)
				Expect(err).NotTo(HaveOccurred())
				err = checkCloudInitView(v, web02.Node, topo.Network, web02, access)
				Expect(err).To(MatchError(ContainSubstring("instance-id")))
				Expect(err).To(MatchError(ContainSubstring("hostname")))
				Expect(err).To(MatchError(ContainSubstring("user_data")))
				Expect(err).To(MatchError(ContainSubstring("vendor cloud-config")))
				if web02.NetworkData != nil {
					Expect(err).To(MatchError(ContainSubstring("want physical eth0 with MAC " + web02.Node.MAC)))
				}
			})

			if flavor == "centos7" {
				It("matches the seed's drive files, web02 mirroring web01", func() {
					for _, d := range drives {
						seed, err := seedFiles(topo, d.Node.Name)
						Expect(err).NotTo(HaveOccurred())
						Expect(seed).To(HaveKey(render.MetaDataPath))
						Expect(compareWithSeed(iso(d.Node.Name), seed)).To(Succeed(), "node %s", d.Node.Name)
					}
				})

				It("fails the seed comparison for a drive that differs", func() {
					seed, err := seedFiles(topo, "web01")
					Expect(err).NotTo(HaveOccurred())
					err = compareWithSeed(iso("web02"), seed)
					Expect(err).To(MatchError(ContainSubstring("openstack/content/0001")))
					Expect(err).To(MatchError(ContainSubstring(render.MetaDataPath)))
				})

				It("completes the web nodes' user_data the way the seed's haproxy node does", func() {
					for _, d := range drives[2:] {
						Expect(string(d.UserData)).To(And(
							HavePrefix("#!/bin/bash\necho "+d.Node.Password+" | passwd --stdin root\nsystemctl restart network\n"),
							ContainSubstring("rpm -ivh"),
							ContainSubstring("install -m 0644 /tmp/index.html /var/www/html/index.html"),
							HaveSuffix("systemctl start httpd\n"),
						), "node %s", d.Node.Name)
					}
				})
			}

			if flavor == "debian12-nova" {
				It("is read from the newest version folder cloud-init knows, with Nova's meta_data", func(ctx SpecContext) {
					for _, d := range drives {
						Expect(d.Layout).To(Equal(render.LayoutNova))
						v, err := readWithCloudInit(ctx, iso(d.Node.Name), d.Node.MAC)
						Expect(err).NotTo(HaveOccurred())
						want := newestKnown(v, d)
						Expect(want).NotTo(Equal("latest"), "the drive has no version folder cloud-init %s knows (%v)", v.CloudInit, v.KnownVersions)
						Expect(v.SelectedVersion).To(Equal(want), "node %s", d.Node.Name)
						if v.CloudInit == "22.4.2" {
							Expect(v.SelectedVersion).To(Equal("2018-08-27"), "cloud-init 22.4.2 knows versions up to 2018-08-27")
						}
						Expect(checkNovaMetaData(v.MetaData, v.SelectedVersion, d.Node, access)).To(Succeed(), "node %s", d.Node.Name)
						if d.Node.Name == "web01" {
							GinkgoWriter.Printf("cloud-init %s read openstack/%s/ of web01's drive\n", v.CloudInit, v.SelectedVersion)
						}
					}
				})

				It("fails the Nova meta_data check on a string launch_index and a short random_seed", func(ctx SpecContext) {
					d := drives[2]
					v, err := readWithCloudInit(ctx, iso(d.Node.Name), d.Node.MAC)
					Expect(err).NotTo(HaveOccurred())
					broken := novaFolderChanged(d, v.SelectedVersion, func(md map[string]any) {
						md["launch_index"] = "0"
						md["random_seed"] = base64.StdEncoding.EncodeToString(make([]byte, 64))
						delete(md, "project_id")
					})
					out := filepath.Join(GinkgoT().TempDir(), "web01.iso")
					Expect(configdrive.Build(ctx, broken, out)).To(Succeed())
					v, err = readWithCloudInit(ctx, out, d.Node.MAC)
					Expect(err).NotTo(HaveOccurred())
					err = checkNovaMetaData(v.MetaData, v.SelectedVersion, d.Node, access)
					Expect(err).To(MatchError(ContainSubstring(`launch_index "0", want the number 0`)))
					Expect(err).To(MatchError(ContainSubstring("random_seed decodes to 64 bytes, want 512")))
					Expect(err).To(MatchError(ContainSubstring("want Nova's for " + v.SelectedVersion)))
				})

				It("is refused by cloud-init's reader when that folder lacks meta_data.json, which it names", func(ctx SpecContext) {
					d := drives[2]
					v, err := readWithCloudInit(ctx, iso(d.Node.Name), d.Node.MAC)
					Expect(err).NotTo(HaveOccurred())
					missing := render.VersionPath(v.SelectedVersion, "meta_data.json")
					d.LayoutFiles = slices.DeleteFunc(slices.Clone(d.LayoutFiles), func(f render.File) bool { return f.Path == missing })
					Expect(d.LayoutFiles).To(HaveLen(len(drives[2].LayoutFiles) - 1))
					out := filepath.Join(GinkgoT().TempDir(), "web01.iso")
					Expect(configdrive.Build(ctx, d, out)).To(Succeed())
					_, err = readWithCloudInit(ctx, out, d.Node.MAC)
					Expect(err).To(MatchError(ContainSubstring("NonReadable: Missing mandatory path: " + missing)))
				})
			}

			if flavor == "debian12" {
				It("fails the cloud-init comparison when the default route needs net-tools", func(ctx SpecContext) {
					d := drives[0]
					// The field notes' trap: a "routes" entry instead of the network's gateway.
					d.NetworkData = bytes.Replace(d.NetworkData,
						[]byte(`"gateway": "192.168.100.1"`),
						[]byte(`"routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "192.168.100.1"}]`), 1)
					Expect(d.NetworkData).To(ContainSubstring("routes"))
					out := filepath.Join(GinkgoT().TempDir(), "test2.iso")
					Expect(configdrive.Build(ctx, d, out)).To(Succeed())
					v, err := readWithCloudInit(ctx, out, d.Node.MAC)
					Expect(err).NotTo(HaveOccurred())
					Expect(checkCloudInitView(v, d.Node, topo.Network, d, access)).To(MatchError(ContainSubstring("route add default gw")))
				})

				It("serves a page naming the node and installs it readable", func() {
					for _, d := range drives[2:] {
						page := d.Content[2]
						Expect(page.Name).To(Equal("index-page"))
						Expect(string(page.Data)).To(Equal("Greetings from " + d.Node.FQDN + " !\n"))
						Expect(string(d.UserData)).To(ContainSubstring("install -m 0644 " + page.GuestPath + " /var/www/html/index.html"))
					}
				})
			}
		})
	}

	It("refuses to write a drive whose network_data names another NIC", func(ctx context.Context) {
		topo, err := topology.Load(topologyFile)
		Expect(err).NotTo(HaveOccurred())
		rendered, err := render.Render(ctx, render.Input{Topology: topo, TemplatesDir: templatesDir, Flavor: "debian12"})
		Expect(err).NotTo(HaveOccurred())
		drives := rendered.Drives
		d := drives[0]
		d.NetworkData = []byte(strings.Replace(string(d.NetworkData), d.Node.MAC, drives[1].Node.MAC, 1))
		out := filepath.Join(GinkgoT().TempDir(), "test2.iso")
		Expect(configdrive.Build(ctx, d, out)).To(MatchError(ContainSubstring("but the node's NIC is " + d.Node.MAC)))
		_, err = os.Stat(out)
		Expect(os.IsNotExist(err)).To(BeTrue(), "a refused drive was written")
	})
})
