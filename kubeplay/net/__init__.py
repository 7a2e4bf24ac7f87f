"""Pod networking: netns, bridge, veth, IPAM leases, port publishing, /etc/hosts. The only pyroute2 user."""
