# A DHCP client process or a non-empty lease file, if any. One pgrep per
# name: pgrep matches nothing (and says so on stderr) when a pattern is
# longer than the 15 characters of a process name.
pgrep -a -x dhclient; pgrep -a -x dhcpcd; pgrep -a -x udhcpc
find /var/lib/dhcp /var/lib/dhclient /var/lib/NetworkManager /run/systemd/netif/leases \
    -type f -size +0 \( -name '*.lease*' -o -path '*/leases/*' \) 2>/dev/null
true
