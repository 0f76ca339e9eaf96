"""The network kernel: simulated time, hosts, links and TCP connections."""
