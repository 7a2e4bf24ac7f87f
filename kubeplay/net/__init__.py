"""Pod networking: netns, bridge, veth, IPAM leases, port publishing, /etc/hosts.
Links, addresses and routes are made with iproute2's `ip`."""
