"""The host's service manager: the sd_notify protocol and socket activation, as systemd defines them."""
