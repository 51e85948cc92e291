#!/bin/sh
# customize.sh ROOT: mmdebstrap's customize hook. It runs inside mmdebstrap's
# mount namespace after every package is installed and while the apt lists
# are still there, so the bundles are resolved against the finished image.
# Environment: DRIVELAB_BUNDLES (names), DRIVELAB_BUNDLE_DIR (output).
set -eu
root=$1
recipe=$(dirname "$0")

# Nothing of the build host may leak into the guest.
echo localhost >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# Host keys are per instance: cloud-init writes the harness's or generates them.
rm -f "$root"/etc/ssh/ssh_host_*_key "$root"/etc/ssh/ssh_host_*_key.pub

# /dev/vda is the filesystem itself; the cmdline mounts it rw, so no fsck pass.
printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t0\n' >"$root/etc/fstab"

# No 2 s delay after a wrong password (pam_unix's default): sshd pads a failed
# attempt to a power-of-two multiple of its own small delay beyond the time
# it took, so that delay came back as 2.5-6.5 s per node in the password check
# (wrong, then right). A wrong password is still refused; only sooner.
sed -i 's/^\(auth\s.*pam_unix\.so nullok\)$/\1 nodelay/' "$root/etc/pam.d/common-auth"
grep -q 'pam_unix.so nullok nodelay$' "$root/etc/pam.d/common-auth"

list() { grep -v -e '^#' -e '^$' "$recipe/$1"; }
list masked-units | xargs -r chroot "$root" systemctl mask --quiet
mkdir -p "$root/etc/systemd/system-generators"
for g in $(list masked-generators); do
	ln -sf /dev/null "$root/etc/systemd/system-generators/$g"
done

# Each bundle holds exactly the .debs that `dpkg -i *.deb` needs on this image.
for b in $DRIVELAB_BUNDLES; do
	chroot "$root" apt-get clean
	chroot "$root" apt-get install --yes --quiet --download-only --no-install-recommends "$b"
	if ! ls "$root"/var/cache/apt/archives/*.deb >/dev/null 2>&1; then
		echo "customize.sh: $b is already in the image; it must travel only in its bundle" >&2
		exit 1
	fi
	mkdir -p "$DRIVELAB_BUNDLE_DIR/$b"
	cp "$root"/var/cache/apt/archives/*.deb "$DRIVELAB_BUNDLE_DIR/$b/"
done
chroot "$root" apt-get clean

# The guests have no resolver but what network_data.json names, which
# resolvconf writes to /run/resolvconf/resolv.conf at boot: /etc/resolv.conf
# is its link there (resolvconf's postinst makes it in a chroot too), and
# none of the build host's servers is left behind.
rm -f "$root/etc/resolv.conf"
ln -s ../run/resolvconf/resolv.conf "$root/etc/resolv.conf"
rm -rf "$root/run/resolvconf" "$root/etc/resolvconf/run"
