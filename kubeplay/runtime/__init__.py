"""A thin driver for conmon and runc/crun: argv building, pid hand-off, error classification."""
